if 'condition' not in globals():
    from jupyter_blocks.decorators import condition


@condition
def evaluate_condition(*args, **kwargs):
    return kwargs["label"] == "weekend"
