"""Jobs, schedules and sensors: when the pipeline runs by itself."""
