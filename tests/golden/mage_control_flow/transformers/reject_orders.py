if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer


@transformer
def transform(orders, *args, **kwargs):
    raise ValueError(f'rejecting all {len(orders)} orders')
