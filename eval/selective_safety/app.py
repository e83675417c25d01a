from pathlib import Path

import evaluate
from evaluate.utils import launch_gradio_widget

from mijabench.analysis.selective_safety import widget_compat

widget_compat()  # evaluate's widget still calls Gradio 3's gr.inputs / gr.outputs
module = evaluate.load(str(Path(__file__).with_name("selective_safety.py")))  # this Space's own copy
launch_gradio_widget(module)
