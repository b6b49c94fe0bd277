"""Integer codes shared by the Numba kernels and the Python components.

This module is the single place where a code is declared; both the kernels and
the user-facing component classes import from here.
"""

# Losses of one margin ``p`` (binary targets are +-1, regression targets real).
LOSS_LOG = 0
LOSS_HINGE = 1  # parameter: threshold (1 for hinge, 0 for perceptron)
LOSS_SQUARED_HINGE = 2  # parameter: threshold
LOSS_MODIFIED_HUBER = 3
LOSS_SQUARED = 4
LOSS_HUBER = 5  # parameter: epsilon
LOSS_EPSILON_INSENSITIVE = 6  # parameter: epsilon
LOSS_SQUARED_EPSILON_INSENSITIVE = 7  # parameter: epsilon
LOSS_POISSON = 8
LOSS_QUANTILE = 9  # parameter: quantile
# Loss coupling all outputs of a sample (softmax cross-entropy).
LOSS_MULTINOMIAL = 10

# How the K outputs of the model relate to the target.
MODE_SINGLE = 0  # K == 1, y holds the real target or +-1
MODE_OVR = 1  # K binary problems, y holds the class index
MODE_MULTINOMIAL = 2  # one softmax model, y holds the class index

# Optimizers (element-wise rules, see DESIGN.md).
OPT_CUSTOM = -1
OPT_SGD = 0  # params: momentum, dampening, nesterov
OPT_ADAGRAD = 1  # params: eps, initial_accumulator_value
OPT_ADADELTA = 2  # params: rho, eps
OPT_RMSPROP = 3  # params: rho, eps, centered, momentum
OPT_ADAM = 4  # params: beta1, beta2, eps, amsgrad  (AdamW = Adam + decoupled decay)

# Step-size schedules, as functions of the update counter t (starting at 1).
SCHED_CONSTANT = 0  # params: eta0
SCHED_INVSCALING = 1  # params: eta0, power_t
SCHED_OPTIMAL = 2  # params: alpha, t0
SCHED_EXPONENTIAL = 3  # params: eta0, gamma
SCHED_COSINE = 4  # params: eta0, eta_min, period
SCHED_WARMUP = 5  # params: eta0, warmup_steps  (linear warm-up, then constant)

# Passive-aggressive steps (learning_rate "pa1" / "pa2"): each row's loss derivative
# is scaled by its own step tau, from its loss and ||x||^2 (see _epoch._pa_tau).
PA_NONE = 0
PA_1 = 1  # tau = min(C, loss / ||x||^2)
PA_2 = 2  # tau = loss / (||x||^2 + 1 / (2 C))

# Number of per-batch constants an optimizer may precompute (bias corrections...).
N_STEP_CONSTANTS = 4
