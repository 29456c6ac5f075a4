if 'condition' not in globals():
    from mage_ai.data_preparation.decorators import condition


@condition
def evaluate_condition(*args, **kwargs) -> bool:
    """Driven by the pipeline variable, false by default."""
    return bool(kwargs.get('send_weekend_report'))
