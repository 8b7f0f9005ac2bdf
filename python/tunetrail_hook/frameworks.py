"""Which modules the hook patches, and by what. Importing this file imports
no framework: each line names a module and the function (in a submodule of
tunetrail_hook) that patches it once the program imports it.

One line per patched module; a framework's hook file is imported only when
its module is."""
from . import register

# register("sklearn.model_selection._search", "hook_sklearn", "patch_search")
register("argparse", "hook_argparse", "patch")
register("xgboost", "hook_xgboost", "patch")
register("optuna", "hook_optuna", "patch")
register("torch", "hook_torch", "patch")
# scikit-learn (hook_sklearn.py): fits, searches, cross-validations; dumps
register("sklearn.base", "hook_sklearn", "patch_base")
register("sklearn.model_selection._validation", "hook_sklearn", "patch_validation")
register("sklearn.model_selection._search", "hook_sklearn", "patch_search")
register("joblib.numpy_pickle", "hook_sklearn", "patch_joblib")
