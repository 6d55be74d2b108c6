"""Writing new studies: ``new-study degrade`` (degraded stimuli from a source study) and
``new-study ilsvrc2012`` (the ILSVRC2012 validation set as a protocol).
"""
