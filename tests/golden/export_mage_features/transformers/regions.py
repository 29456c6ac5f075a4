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
            output = function(*args, **kwargs)
            # A bare list of items becomes Mage's [items]; [items], [items, metadata] stay.
            from collections.abc import Mapping

            if isinstance(output, tuple):
                output = list(output)
            if isinstance(output, list) and not (
                    (len(output) == 1 and isinstance(output[0], list))
                    or (len(output) == 2 and all(isinstance(part, list) for part in output)
                        and len(output[0]) == len(output[1])
                        and all(isinstance(meta, Mapping) for meta in output[1]))):
                output = [output]
            return output

        return register(call)

    return adapt


transformer = _jupyter_blocks_for_mage(transformer)


@transformer
def transform(orders, *args, **kwargs):
    return [{"region": region, "amount": float(orders[orders.region == region].amount.sum())}
     for region in sorted(orders.region.unique())]
