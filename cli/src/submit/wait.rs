//! Following a task to its end by polling `GET /api/v1/tasks/{id}`: often at first (most
//! tasks are quick), less often the longer it takes. A moment's trouble (no answer, a 503, a 429 of a rate limit)
//! is waited out; an answer that the task is gone is final.

use std::time::Duration;

use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::api::{ApiError, Client, Task};

const FIRST_POLL: Duration = Duration::from_millis(200);
const SLOWEST_POLL: Duration = Duration::from_secs(2);
/// Failed polls in a row before giving up on a task.
const TROUBLE_LIMIT: u32 = 10;

/// The task once COMPLETED, FAILED or CANCELLED. `polls` bounds the reads in flight, so a
/// thousand files waiting make a steady trickle of requests, not a burst.
pub(crate) async fn until_ended(
    client: &Client,
    id: Uuid,
    polls: &Semaphore,
) -> Result<Task, ApiError> {
    let mut interval = FIRST_POLL;
    let mut trouble = 0;
    loop {
        let read = {
            let _permit = polls.acquire().await;
            client.task(id).await
        };
        match read {
            Ok(task) if task.view.is_terminal() => return Ok(task),
            Ok(_) => trouble = 0,
            Err(err) if transient(&err) && trouble < TROUBLE_LIMIT => trouble += 1,
            Err(err) => return Err(err),
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 3 / 2).min(SLOWEST_POLL);
    }
}

fn transient(err: &ApiError) -> bool {
    match err {
        ApiError::Refused { status, .. } => matches!(status, 429 | 502..=504),
        ApiError::Unreachable(_) => true,
        ApiError::Unreadable { .. } => false,
    }
}
