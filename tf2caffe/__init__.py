"""tf2caffe: one `tf2caffe` command for both stages (export under TF, import under Caffe, inspect anywhere).

This package is only the dispatcher: it imports neither TensorFlow nor Caffe itself, and loads the side a
subcommand needs when that subcommand runs, so the import side installs and runs without TensorFlow.
Python 3.8 compatible.
"""

__version__ = "0.1.0"
