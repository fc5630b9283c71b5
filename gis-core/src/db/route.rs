//! Which read server a request uses, when reads are spread over several (streaming replicas
//! and, as the last resort, the primary).
//!
//! The server's edge picks a read target per request (a replica that is up, or the primary
//! when none is, or when a replica has not replayed the reader's write in time) and runs the
//! request inside [`with_read_target`]; code deep in the stack (the tile renderer, the pools
//! of each work class) reads it with [`read_target`] and takes the pool of that index, so no
//! signature carries it. The index means what the caller that built the pools says; outside
//! a request there is none.

use std::future::Future;

tokio::task_local! {
    static READ_TARGET: usize;
}

/// Runs `fut` reading from target `index`.
pub async fn with_read_target<F: Future>(index: usize, fut: F) -> F::Output {
    READ_TARGET.scope(index, fut).await
}

/// The read target of the current request, if one was chosen.
pub fn read_target() -> Option<usize> {
    READ_TARGET.try_with(|v| *v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_target_is_scoped_to_the_request() {
        assert_eq!(read_target(), None);
        assert_eq!(with_read_target(2, async { read_target() }).await, Some(2));
        assert_eq!(read_target(), None);
    }
}
