"""tbviz: the helper package of the course "Visualizing PyTorch models, data and training with
TensorBoard".

Import the modules you need, for example ``from tbviz import data, logs``. Importing the package
does no work: no data is read, no seed is set, no server is started.
"""

__version__ = "0.1.0"

__all__ = ["board", "data", "logs", "models", "paths", "plots", "runtime", "train"]
