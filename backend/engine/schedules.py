"""Learning-rate schedules."""


def inverse_time(lr0: float, decay: float, epoch: int) -> float:
    """lr = lr0 / (1 + decay * epoch): the course's learning-rate decay."""
    return lr0 / (1.0 + decay * epoch)
