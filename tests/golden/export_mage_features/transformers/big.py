if 'transformer' not in globals():
    from jupyter_blocks.decorators import transformer


@transformer
def transform(orders, *args, **kwargs):
    return orders[orders.amount >= kwargs["min_amount"]].reset_index(drop=True)
