"""tbviz: the helper package of the course "Visualizing PyTorch models, data and training with
TensorBoard".

Import the modules you need, for example ``from tbviz import data, logs``. Importing the package
does no work: no data is read, no seed is set, no server is started.
"""

__version__ = "0.1.0"

REPOSITORY = "tbviz-course/tensorboard-course"
"""GitHub owner/name of the course: the Colab badges and install cells point here. A teacher
who forks the course changes it here and runs ``python tools/stamp_colab.py``."""

__all__ = [
    "board",
    "data",
    "ddp",
    "events",
    "logs",
    "models",
    "paths",
    "plots",
    "runtime",
    "train",
    "train_cli",
]
