if 'condition' not in globals():
    from jupyter_blocks.decorators import condition


@condition
def evaluate_condition(big, *args, **kwargs):
    return len(big) > 0
