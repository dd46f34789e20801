//! The task DAG of a job: which tasks exist (built once, from the request and the engines that
//! are available) and what should happen next (evaluated after every task change).

use crate::params::{JobParameters, SpeakerDetection, TimestampsGranularity};
use crate::{JobStatus, Stage, TaskId, TaskStatus};

/// What the deployment can run, as far as planning a job is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AvailableEngines {
    /// The transcriber produces word timings itself (no align stage needed).
    pub transcriber_word_timestamps: bool,
    pub align: bool,
    pub diarize: bool,
}

/// One task of a planned job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTask {
    pub id: TaskId,
    pub stage: Stage,
    pub depends_on: Vec<TaskId>,
    /// A required task's failure fails the job; an optional one only degrades the result.
    pub required: bool,
}

/// The tasks of a new job and the warnings about what it will not produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DagPlan {
    pub tasks: Vec<PlannedTask>,
    pub warnings: Vec<String>,
}

/// Plans `prepare → transcribe → [align] → merge`, with `prepare → diarize → merge` in parallel
/// when speakers are requested. Missing optional capabilities become warnings, not errors: the
/// job still gives a transcript.
pub fn build_dag(params: &JobParameters, engines: &AvailableEngines) -> DagPlan {
    let mut tasks = Vec::new();
    let mut warnings = Vec::new();
    let mut add = |stage: Stage, depends_on: Vec<TaskId>, required: bool| {
        let id = TaskId::generate();
        tasks.push(PlannedTask {
            id: id.clone(),
            stage,
            depends_on,
            required,
        });
        id
    };

    let prepare = add(Stage::Prepare, vec![], true);
    let transcribe = add(Stage::Transcribe, vec![prepare.clone()], true);
    let mut merge_inputs = vec![transcribe.clone()];

    if params.timestamps_granularity == TimestampsGranularity::Word
        && !engines.transcriber_word_timestamps
    {
        if engines.align {
            merge_inputs.push(add(Stage::Align, vec![transcribe], false));
        } else {
            warnings.push("word timestamps are not available from this server's engines; segment timestamps are given instead".to_owned());
        }
    }
    match params.speaker_detection {
        SpeakerDetection::Diarize if engines.diarize => {
            merge_inputs.push(add(Stage::Diarize, vec![prepare], false))
        }
        SpeakerDetection::Diarize => {
            warnings.push("speaker diarization is not available on this server; the transcript has no speakers".to_owned());
        }
        // No stage of its own: prepare splits the channels, transcribe takes each in turn and
        // merge labels every channel's words with its speaker.
        SpeakerDetection::PerChannel | SpeakerDetection::None => {}
    }
    add(Stage::Merge, merge_inputs, true);
    DagPlan { tasks, warnings }
}

/// The part of a stored task that planning needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    pub id: TaskId,
    pub stage: Stage,
    pub status: TaskStatus,
    pub required: bool,
    pub depends_on: Vec<TaskId>,
    pub error: Option<String>,
}

/// What the orchestrator should do next for a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DagAction {
    /// All dependencies are done: mark ready and enqueue.
    Enqueue(TaskId),
    /// A dependency failed or was cancelled: this task can never run.
    Skip(TaskId),
    /// Cancel a task that has not started (job cancelling or failed).
    Cancel(TaskId),
    StartJob,
    CompleteJob,
    FailJob {
        reason: String,
    },
    /// A cancel request finished: nothing is running any more.
    FinishCancel,
}

/// Evaluates the DAG of a job in `status`. Pure and idempotent: applying the actions and calling
/// it again yields no repeat of the same action.
pub fn next_actions(status: JobStatus, tasks: &[TaskView]) -> Vec<DagAction> {
    if status.is_terminal() {
        return Vec::new();
    }
    let find = |id: &TaskId| tasks.iter().find(|task| &task.id == id);
    let cancel_idle = |actions: &mut Vec<DagAction>| {
        for task in tasks
            .iter()
            .filter(|t| matches!(t.status, TaskStatus::Pending | TaskStatus::Ready))
        {
            actions.push(DagAction::Cancel(task.id.clone()));
        }
    };
    let mut actions = Vec::new();

    if status == JobStatus::Cancelling {
        cancel_idle(&mut actions);
        if !tasks.iter().any(|t| t.status == TaskStatus::Running) {
            actions.push(DagAction::FinishCancel);
        }
        return actions;
    }

    if let Some(failed) = tasks
        .iter()
        .find(|t| t.required && matches!(t.status, TaskStatus::Failed | TaskStatus::Cancelled))
    {
        let detail = failed
            .error
            .clone()
            .unwrap_or_else(|| failed.status.to_string());
        cancel_idle(&mut actions);
        actions.push(DagAction::FailJob {
            reason: format!("{} failed: {detail}", failed.stage),
        });
        return actions;
    }

    for task in tasks.iter().filter(|t| t.status == TaskStatus::Pending) {
        let dependencies: Vec<Option<&TaskView>> = task.depends_on.iter().map(find).collect();
        let blocked = dependencies.iter().any(|dep| {
            dep.is_none_or(|dep| matches!(dep.status, TaskStatus::Failed | TaskStatus::Cancelled))
        });
        if blocked {
            actions.push(DagAction::Skip(task.id.clone()));
        } else if dependencies
            .iter()
            .all(|dep| dep.is_some_and(|dep| dep.status.satisfies_dependents()))
        {
            actions.push(DagAction::Enqueue(task.id.clone()));
        }
    }

    if status == JobStatus::Pending && tasks.iter().any(|t| t.status == TaskStatus::Running) {
        actions.push(DagAction::StartJob);
    }
    let all_done = tasks.iter().all(|t| t.status.is_terminal());
    if all_done
        && tasks
            .iter()
            .filter(|t| t.required)
            .all(|t| t.status == TaskStatus::Completed)
    {
        if status == JobStatus::Pending {
            actions.push(DagAction::StartJob);
        }
        actions.push(DagAction::CompleteJob);
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn views(plan: &DagPlan) -> Vec<TaskView> {
        plan.tasks
            .iter()
            .map(|t| TaskView {
                id: t.id.clone(),
                stage: t.stage,
                status: TaskStatus::Pending,
                required: t.required,
                depends_on: t.depends_on.clone(),
                error: None,
            })
            .collect()
    }

    fn stages(plan: &DagPlan) -> Vec<Stage> {
        plan.tasks.iter().map(|t| t.stage).collect()
    }

    #[test]
    fn default_request_on_a_whisper_only_server() {
        let plan = build_dag(&JobParameters::default(), &AvailableEngines::default());
        assert_eq!(
            stages(&plan),
            vec![Stage::Prepare, Stage::Transcribe, Stage::Merge]
        );
        assert_eq!(
            plan.warnings.len(),
            1,
            "word timestamps were requested by default"
        );
        let segment_only = JobParameters {
            timestamps_granularity: TimestampsGranularity::Segment,
            ..Default::default()
        };
        assert!(
            build_dag(&segment_only, &AvailableEngines::default())
                .warnings
                .is_empty()
        );
    }

    #[test]
    fn align_and_diarize_are_optional_branches_joined_by_merge() {
        let params = JobParameters {
            speaker_detection: SpeakerDetection::Diarize,
            ..Default::default()
        };
        let engines = AvailableEngines {
            align: true,
            diarize: true,
            ..Default::default()
        };
        let plan = build_dag(&params, &engines);
        assert_eq!(
            stages(&plan),
            vec![
                Stage::Prepare,
                Stage::Transcribe,
                Stage::Align,
                Stage::Diarize,
                Stage::Merge
            ]
        );
        let merge = plan.tasks.last().expect("merge");
        assert_eq!(merge.depends_on.len(), 3);
        assert!(
            plan.tasks
                .iter()
                .filter(|t| matches!(t.stage, Stage::Align | Stage::Diarize))
                .all(|t| !t.required)
        );
        assert!(plan.warnings.is_empty());
    }

    #[test]
    fn a_transcriber_with_word_timings_needs_no_align() {
        let engines = AvailableEngines {
            transcriber_word_timestamps: true,
            align: true,
            ..Default::default()
        };
        let plan = build_dag(&JobParameters::default(), &engines);
        assert!(!stages(&plan).contains(&Stage::Align));
    }

    #[test]
    fn tasks_become_ready_in_dependency_order_and_the_job_completes() {
        let plan = build_dag(&JobParameters::default(), &AvailableEngines::default());
        let mut tasks = views(&plan);
        assert_eq!(
            next_actions(JobStatus::Pending, &tasks),
            vec![DagAction::Enqueue(tasks[0].id.clone())]
        );

        tasks[0].status = TaskStatus::Running;
        assert_eq!(
            next_actions(JobStatus::Pending, &tasks),
            vec![DagAction::StartJob]
        );
        tasks[0].status = TaskStatus::Completed;
        assert_eq!(
            next_actions(JobStatus::Running, &tasks),
            vec![DagAction::Enqueue(tasks[1].id.clone())]
        );
        tasks[1].status = TaskStatus::Completed;
        tasks[2].status = TaskStatus::Completed;
        assert_eq!(
            next_actions(JobStatus::Running, &tasks),
            vec![DagAction::CompleteJob]
        );
        assert!(next_actions(JobStatus::Completed, &tasks).is_empty());
    }

    #[test]
    fn a_failed_optional_branch_does_not_block_merge() {
        let params = JobParameters {
            speaker_detection: SpeakerDetection::Diarize,
            ..Default::default()
        };
        let engines = AvailableEngines {
            diarize: true,
            transcriber_word_timestamps: true,
            ..Default::default()
        };
        let plan = build_dag(&params, &engines);
        let mut tasks = views(&plan);
        // prepare, transcribe, diarize, merge
        tasks[0].status = TaskStatus::Completed;
        tasks[1].status = TaskStatus::Completed;
        tasks[2].status = TaskStatus::Skipped;
        assert_eq!(
            next_actions(JobStatus::Running, &tasks),
            vec![DagAction::Enqueue(tasks[3].id.clone())]
        );
    }

    #[test]
    fn a_failed_required_task_fails_the_job_with_its_reason() {
        let plan = build_dag(&JobParameters::default(), &AvailableEngines::default());
        let mut tasks = views(&plan);
        tasks[0].status = TaskStatus::Failed;
        tasks[0].error = Some("the file is not audio".into());
        let actions = next_actions(JobStatus::Running, &tasks);
        assert_eq!(
            actions.last(),
            Some(&DagAction::FailJob {
                reason: "prepare failed: the file is not audio".into()
            })
        );
        assert!(actions.contains(&DagAction::Cancel(tasks[1].id.clone())));
    }

    #[test]
    fn cancelling_waits_for_running_tasks() {
        let plan = build_dag(&JobParameters::default(), &AvailableEngines::default());
        let mut tasks = views(&plan);
        tasks[0].status = TaskStatus::Completed;
        tasks[1].status = TaskStatus::Running;
        let actions = next_actions(JobStatus::Cancelling, &tasks);
        assert_eq!(actions, vec![DagAction::Cancel(tasks[2].id.clone())]);
        tasks[1].status = TaskStatus::Cancelled;
        tasks[2].status = TaskStatus::Cancelled;
        assert_eq!(
            next_actions(JobStatus::Cancelling, &tasks),
            vec![DagAction::FinishCancel]
        );
    }
}
