if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer


@transformer
def transform(orders, *args, **kwargs):
    """Fails its first attempt whenever the runner counts attempts (kwargs['retry']['attempts'])."""
    attempt = (kwargs.get('retry') or {}).get('attempts')
    if attempt == 1:
        raise RuntimeError('summarize_orders: transient failure on attempt 1')
    return {
        'orders': int(len(orders)),
        'amount': float(orders['amount'].sum()),
        'attempt': attempt,
    }
