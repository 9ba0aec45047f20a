"""Mirror of ``modules/call_queue.py``: the (non re-entrant) queue lock."""

import threading

queue_lock = threading.Lock()  # WebUI's FIFOLock is not re-entrant either


def wrap_gradio_gpu_call(func, extra_outputs=None):
    def f(*args, **kwargs):
        with queue_lock:
            return func(*args, **kwargs)

    return f
