if 'data_loader' not in globals():
    from jupyter_blocks.decorators import data_loader


@data_loader
def load_data(*args, **kwargs):
    return [1, 2, 3, 4, 9]
