//! Job progress (0–100) from the state and progress of its tasks.

use crate::{Stage, TaskStatus};

/// How much of a job's work a stage represents, for the progress bar. Transcription dominates.
pub fn stage_weight(stage: Stage) -> u32 {
    match stage {
        Stage::Prepare => 10,
        Stage::Transcribe => 70,
        Stage::Align => 10,
        Stage::Diarize => 15,
        Stage::Merge => 5,
    }
}

/// A task as progress sees it: its stage, its state and, while running, the fraction done.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskProgress {
    pub stage: Stage,
    pub status: TaskStatus,
    /// 0.0–1.0 reported by the engine while running.
    pub fraction: f32,
}

/// Weighted share of finished work, 0–100. A job is only at 100 when every task is terminal.
pub fn job_progress(tasks: &[TaskProgress]) -> u8 {
    let total: u32 = tasks.iter().map(|t| stage_weight(t.stage)).sum();
    if total == 0 {
        return 0;
    }
    let done: f32 = tasks
        .iter()
        .map(|t| {
            let share = if t.status.is_terminal() {
                1.0
            } else if t.status == TaskStatus::Running {
                t.fraction.clamp(0.0, 0.99)
            } else {
                0.0
            };
            share * stage_weight(t.stage) as f32
        })
        .sum();
    let percent = (done / total as f32 * 100.0).floor();
    let all_terminal = tasks.iter().all(|t| t.status.is_terminal());
    if all_terminal {
        100
    } else {
        percent.min(99.0) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(stage: Stage, status: TaskStatus, fraction: f32) -> TaskProgress {
        TaskProgress {
            stage,
            status,
            fraction,
        }
    }

    #[test]
    fn progress_moves_with_transcription() {
        let mut tasks = vec![
            task(Stage::Prepare, TaskStatus::Completed, 1.0),
            task(Stage::Transcribe, TaskStatus::Running, 0.5),
            task(Stage::Merge, TaskStatus::Pending, 0.0),
        ];
        assert_eq!(job_progress(&tasks), 52);
        tasks[1] = task(Stage::Transcribe, TaskStatus::Completed, 1.0);
        assert_eq!(job_progress(&tasks), 94);
        tasks[2] = task(Stage::Merge, TaskStatus::Completed, 1.0);
        assert_eq!(job_progress(&tasks), 100);
    }

    #[test]
    fn empty_or_fresh_jobs_are_at_zero() {
        assert_eq!(job_progress(&[]), 0);
        assert_eq!(
            job_progress(&[task(Stage::Prepare, TaskStatus::Ready, 0.0)]),
            0
        );
    }
}
