if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer


@transformer
def transform(item, *args, **kwargs):
    """Runs once per region; reduce_output gathers the totals into one list downstream."""
    return {'region': item['region'], 'total': sum(item['amounts']), 'child_index': kwargs.get('dynamic_block_index')}
