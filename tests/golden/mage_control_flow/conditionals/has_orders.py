if 'condition' not in globals():
    from mage_ai.data_preparation.decorators import condition


@condition
def evaluate_condition(orders, *args, **kwargs) -> bool:
    """Receives the gated block's upstream outputs: here the loaded orders."""
    return len(orders) > 0
