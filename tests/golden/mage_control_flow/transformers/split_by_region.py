if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer


@transformer
def transform(orders, *args, **kwargs):
    """Dynamic: the outputs are [items, metadata]; each metadata block_uuid names a child."""
    regions = sorted(orders['region'].unique())
    items = [
        {'region': region, 'amounts': [float(a) for a in orders.loc[orders['region'] == region, 'amount']]}
        for region in regions
    ]
    metadata = [{'block_uuid': region} for region in regions]
    return [items, metadata]
