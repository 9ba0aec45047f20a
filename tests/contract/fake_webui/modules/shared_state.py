"""Mirror of ``modules/shared_state.py: State`` (the fields and methods extensions use)."""


class State:
    skipped = False
    interrupted = False
    stopping_generation = False
    job = ""
    job_no = 0
    job_count = 0
    processing_has_refined_job_count = False
    job_timestamp = "0"
    sampling_step = 0
    sampling_steps = 0
    current_latent = None
    current_image = None
    id_live_preview = 0
    textinfo = None
    time_start = None
    server_start = None

    def __init__(self):
        self.jobs_begun = []

    def interrupt(self):
        self.interrupted = True

    def skip(self):
        self.skipped = True

    def nextjob(self):
        self.job_no += 1
        self.sampling_step = 0

    def begin(self, job: str = "(unknown)"):
        self.jobs_begun.append(job)
        self.sampling_step = 0
        self.job_count = -1
        self.job_no = 0
        self.skipped = False
        self.interrupted = False
        self.job = job

    def end(self):
        self.job = ""
        self.job_count = 0

    def assign_current_image(self, image):
        self.current_image = image
