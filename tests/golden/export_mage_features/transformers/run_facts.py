if 'transformer' not in globals():
    from jupyter_blocks.decorators import transformer


# Under Mage, this block gets what a jupyter-blocks run gives it: written by jupyter-blocks
# export (import removes it).
def _jupyter_blocks_for_mage(register):
    import functools
    import logging

    class Forward(logging.Handler):
        """Log records to Mage's logger (it takes one message), or printed."""

        def __init__(self, target):
            super().__init__()
            self.target = target

        def emit(self, record):
            message = self.format(record)
            if self.target is None:
                print(message)
            else:
                getattr(self.target, record.levelname.lower(), self.target.info)(message)

    def adapt(function):
        @functools.wraps(function)
        def call(*args, **kwargs):
            if kwargs:
                import datetime
                import uuid

                now = datetime.datetime.now().replace(microsecond=0)
                date = kwargs.get('execution_date') or now
                if isinstance(date, str):
                    date = datetime.datetime.fromisoformat(date)
                elif not isinstance(date, datetime.datetime):
                    date = datetime.datetime(date.year, date.month, date.day)
                kwargs['execution_date'] = date
                start = kwargs.setdefault('interval_start_datetime', date)
                end = kwargs.setdefault('interval_end_datetime',
                                        date + datetime.timedelta(days=1))
                kwargs.setdefault('interval_seconds', int((end - start).total_seconds()))
                kwargs.setdefault('ds', date.strftime('%Y-%m-%d'))
                kwargs.setdefault('hr', date.strftime('%H'))
                kwargs.setdefault('pipeline', kwargs.get('pipeline_uuid'))
                kwargs.setdefault('block', kwargs.get('block_uuid'))
                run = kwargs.get('pipeline_run_id')
                kwargs.setdefault('run_id', str(run) if run else uuid.uuid4().hex[:12])
                given = kwargs.get('logger')
                if not isinstance(given, logging.Logger):
                    logger = logging.getLogger(f"jupyter_blocks.blocks.{kwargs.get('block_uuid')}")
                    logger.handlers, logger.propagate = [Forward(given)], False
                    logger.setLevel(logging.DEBUG)
                    kwargs['logger'] = logger
                kwargs.setdefault('retry', {'attempts': 1})
            output = function(*args, **kwargs)
            return output

        return register(call)

    return adapt


transformer = _jupyter_blocks_for_mage(transformer)


@transformer
def run_facts(big, *args, **kwargs):
    kwargs["logger"].info("run_facts for %s", kwargs["ds"])
    return {
        "ds": kwargs["ds"],
        "hr": kwargs["hr"],
        "execution_date": kwargs["execution_date"].strftime("%Y-%m-%d %H:%M"),
        "interval_days": (kwargs["interval_end_datetime"] - kwargs["interval_start_datetime"]).days,
        "pipeline": kwargs["pipeline"],
        "pipeline_uuid": kwargs["pipeline_uuid"],
        "block": kwargs["block"],
        "block_uuid": kwargs["block_uuid"],
        "configuration": kwargs["configuration"],
        "context": sorted(kwargs["context"]),
        "label": kwargs["label"],
        "rows": len(big),
    }
