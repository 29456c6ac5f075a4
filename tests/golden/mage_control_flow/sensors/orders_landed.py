import os

if 'sensor' not in globals():
    from mage_ai.data_preparation.decorators import sensor


@sensor
def check_condition(*args, **kwargs) -> bool:
    """True once the day's orders file is in inputs/."""
    return os.path.exists(os.path.join(kwargs['repo_path'], 'inputs', 'orders.csv'))
