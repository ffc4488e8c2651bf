"""The dbt project, and nothing else: `dagster-dbt project prepare-and-package --file` imports this module,
so it must not need the manifest that it is there to prepare."""

from dagster_dbt import DbtProject

from orchestration.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()
