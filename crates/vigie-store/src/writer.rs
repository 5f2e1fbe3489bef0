//! The group-commit writer: token-path writes (new refresh-token families, rotations)
//! and ingestion go through one task, which applies every job waiting when a batch
//! starts in one transaction and answers each after one durable commit. A batch that
//! fails is retried job by job, so that one bad job cannot fail its neighbours.

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use crate::dialect::Dialect;
use crate::ingest::IngestJob;
use crate::series_ids::SeriesCache;
use crate::{Error, IngestSummary, NewRefreshFamily, RefreshRotation, Result, RotationOutcome};

/// Jobs waiting beyond this many are left for the next batch.
const MAX_BATCH: usize = 1024;
/// How many writes may wait for the writer before callers wait to enqueue.
const WRITE_QUEUE: usize = 8192;

/// A job, its outcome once applied, and where the outcome goes after the commit.
struct Pending<I, O> {
    input: I,
    output: Option<O>,
    reply: oneshot::Sender<Result<O>>,
}

impl<I, O> Pending<I, O> {
    /// Answers with the outcome (set by `apply` for every job of a committed batch).
    fn deliver(self) {
        // A caller that gave up (client disconnected) no longer listens; that is fine.
        let _ = self.reply.send(self.output.ok_or(Error::WriterStopped));
    }

    fn fail(self, error: Error) {
        let _ = self.reply.send(Err(error));
    }
}

/// The writes the writer applies.
enum WriteJob {
    CreateFamily(Pending<NewRefreshFamily, bool>),
    Rotate(Pending<RefreshRotation, RotationOutcome>),
    Ingest(Pending<IngestJob, IngestSummary>),
}

impl WriteJob {
    fn deliver(self) {
        match self {
            Self::CreateFamily(job) => job.deliver(),
            Self::Rotate(job) => job.deliver(),
            Self::Ingest(job) => job.deliver(),
        }
    }

    fn fail(self, error: Error) {
        match self {
            Self::CreateFamily(job) => job.fail(error),
            Self::Rotate(job) => job.fail(error),
            Self::Ingest(job) => job.fail(error),
        }
    }
}

/// A queued batch of readings, on its way to the store.
pub struct Committing(oneshot::Receiver<Result<IngestSummary>>);

impl Committing {
    /// What the batch's commit gave.
    ///
    /// # Errors
    /// The commit's error; [`Error::WriterStopped`] if the writer stopped first.
    pub async fn outcome(self) -> Result<IngestSummary> {
        self.0.await.map_err(|_| Error::WriterStopped)?
    }
}

/// The handle through which the store submits writes; cheap to clone.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<WriteJob>,
}

impl Writer {
    /// Starts the writer task on `pool`.
    pub(crate) fn start(pool: AnyPool, dialect: Dialect) -> Self {
        let (jobs, queue) = mpsc::channel(WRITE_QUEUE);
        tokio::spawn(run(pool, dialect, queue));
        Self { jobs }
    }

    async fn submit<I, O>(&self, input: I, job: fn(Pending<I, O>) -> WriteJob) -> Result<O> {
        self.queue(input, job)
            .await?
            .await
            .map_err(|_| Error::WriterStopped)?
    }

    /// Queues a job; its outcome arrives through the receiver after its commit.
    async fn queue<I, O>(
        &self,
        input: I,
        job: fn(Pending<I, O>) -> WriteJob,
    ) -> Result<oneshot::Receiver<Result<O>>> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            input,
            output: None,
            reply,
        };
        self.jobs
            .send(job(pending))
            .await
            .map_err(|_| Error::WriterStopped)?;
        Ok(answer)
    }

    /// Starts a refresh-token family; `false` when its application is unknown or disabled.
    pub(crate) async fn create_family(&self, family: NewRefreshFamily) -> Result<bool> {
        self.submit(family, WriteJob::CreateFamily).await
    }

    /// Rotates a refresh token (see [`crate::TokenStore::rotate_refresh_token`]).
    pub(crate) async fn rotate(&self, rotation: RefreshRotation) -> Result<RotationOutcome> {
        self.submit(rotation, WriteJob::Rotate).await
    }

    /// Queues one request's readings with their detection results (see
    /// [`crate::ReadingStore::queue_batch`]).
    pub(crate) async fn queue_ingest(&self, job: IngestJob) -> Result<Committing> {
        Ok(Committing(self.queue(job, WriteJob::Ingest).await?))
    }
}

async fn run(pool: AnyPool, dialect: Dialect, mut queue: mpsc::Receiver<WriteJob>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut series = SeriesCache::default();
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match apply(&pool, dialect, &mut batch, &mut series).await {
            Ok(()) => batch.drain(..).for_each(WriteJob::deliver),
            Err(error) => {
                tracing::warn!(%error, jobs = batch.len(), "batched write failed; retrying jobs one by one");
                // Ids of series created in the rolled-back transaction are gone.
                series.clear();
                for job in batch.drain(..) {
                    let mut single = [job];
                    let outcome = apply(&pool, dialect, &mut single, &mut series).await;
                    let [job] = single;
                    match outcome {
                        Ok(()) => job.deliver(),
                        Err(error) => {
                            series.clear();
                            job.fail(error);
                        }
                    }
                }
            }
        }
    }
}

/// Applies the jobs in one transaction; their outcomes are set once it commits.
async fn apply(
    pool: &AnyPool,
    dialect: Dialect,
    batch: &mut [WriteJob],
    series: &mut SeriesCache,
) -> Result<()> {
    let mut tx = pool.begin_with(dialect.begin()).await?;
    // New families first, all at once: none of the batch's rotations can refer to
    // them, since their tokens have not been handed out yet.
    let families: Vec<&NewRefreshFamily> = batch
        .iter()
        .filter_map(|job| match job {
            WriteJob::CreateFamily(job) => Some(&job.input),
            _ => None,
        })
        .collect();
    let created = crate::tokens::create_families(&mut tx, dialect, &families).await?;
    for job in batch.iter_mut() {
        match job {
            WriteJob::CreateFamily(job) => {
                job.output = Some(created.contains(&job.input.family_id));
            }
            WriteJob::Rotate(job) => {
                job.output = Some(crate::tokens::rotate(&mut tx, &job.input).await?);
            }
            WriteJob::Ingest(_) => {}
        }
    }
    // Ingestion jobs in groups that share no series, each group written with one set
    // of statements (under load, hundreds of small requests wait together: one
    // statement each instead of several per request).
    let mut ingest: Vec<&mut Pending<IngestJob, IngestSummary>> = batch
        .iter_mut()
        .filter_map(|job| match job {
            WriteJob::Ingest(job) => Some(job),
            _ => None,
        })
        .collect();
    while !ingest.is_empty() {
        let mut taken = crate::ingest::Disjoint::default();
        let group = ingest
            .iter()
            .take_while(|job| taken.take(&job.input))
            .count();
        let inputs: Vec<&IngestJob> = ingest[..group].iter().map(|job| &job.input).collect();
        let summaries = crate::ingest::write(&mut tx, dialect, series, &inputs).await?;
        for (job, summary) in ingest.drain(..group).zip(summaries) {
            job.output = Some(summary);
        }
    }
    tx.commit().await?;
    Ok(())
}
