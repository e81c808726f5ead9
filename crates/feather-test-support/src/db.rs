//! Throwaway databases: a SQLite file in a temporary directory, or a fresh
//! database on the PostgreSQL server that `FEATHER_TEST_DATABASE_URL` names,
//! dropped again when the [`TestDb`] is.

use tempfile::TempDir;

use crate::skip::skip;

/// Which store a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the server `FEATHER_TEST_DATABASE_URL` names.
    Postgres,
}

/// The variable naming the PostgreSQL server for tests.
pub const TEST_DATABASE_ENV: &str = "FEATHER_TEST_DATABASE_URL";

/// Runs each named `async fn(Backend) -> anyhow::Result<()>` as two tests,
/// `NAME::sqlite` and `NAME::postgres`: one set of test bodies, two stores.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() -> anyhow::Result<()> {
                super::$name($crate::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() -> anyhow::Result<()> {
                super::$name($crate::Backend::Postgres).await
            }
        }
    )+};
}

/// A fresh, empty database for one test (or one benchmark); a PostgreSQL
/// one is dropped when this is dropped.
pub struct TestDb {
    /// Its URL, for `store::open` or `--database-url`.
    pub url: String,
    /// Which kind it is.
    pub backend: Backend,
    dir: TempDir,
    postgres: Option<Throwaway>,
}

/// A database made on a PostgreSQL server, to drop afterwards.
struct Throwaway {
    admin_url: String,
    name: String,
}

impl TestDb {
    /// A new database, or `None` when PostgreSQL is not configured here (the
    /// skip is reported with [`skip`], which fails under CI).
    pub async fn fresh(backend: Backend) -> anyhow::Result<Option<TestDb>> {
        match backend {
            Backend::Sqlite => Ok(Some(TestDb::sqlite()?)),
            Backend::Postgres => {
                let Ok(admin_url) = std::env::var(TEST_DATABASE_ENV) else {
                    let test = std::thread::current().name().unwrap_or("a test").to_owned();
                    skip(&test, &format!("{TEST_DATABASE_ENV} is not set"))?;
                    return Ok(None);
                };
                Ok(Some(TestDb::postgres(&admin_url, "feather_test").await?))
            }
        }
    }

    /// A SQLite file in a new temporary directory.
    pub fn sqlite() -> anyhow::Result<TestDb> {
        let dir = tempfile::tempdir()?;
        Ok(TestDb {
            url: format!("sqlite:{}", dir.path().join("feather.db").display()),
            backend: Backend::Sqlite,
            dir,
            postgres: None,
        })
    }

    /// A new database `PREFIX_<random>` on the server of `admin_url`.
    pub async fn postgres(admin_url: &str, prefix: &str) -> anyhow::Result<TestDb> {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url)
            .await
            .map_err(|e| anyhow::anyhow!("PostgreSQL at {admin_url} is not reachable: {e}"))?;
        sqlx::query(&format!("CREATE DATABASE {}", quoted(&name)))
            .execute(&mut conn)
            .await?;
        let mut url = url::Url::parse(admin_url)?;
        url.set_path(&format!("/{name}"));
        Ok(TestDb {
            url: url.to_string(),
            backend: Backend::Postgres,
            dir: tempfile::tempdir()?,
            postgres: Some(Throwaway {
                admin_url: admin_url.to_owned(),
                name,
            }),
        })
    }

    /// The directory a SQLite database lives in (also there for PostgreSQL,
    /// for a test's other files).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// `name` as a quoted SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(Throwaway { admin_url, name }) = self.postgres.take() else {
            return;
        };
        // Best effort, on a thread of its own: Drop cannot await, and may
        // run inside a runtime.
        let dropped = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut conn) =
                    <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await
                {
                    let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quoted(&name));
                    let _ = sqlx::query(&drop).execute(&mut conn).await;
                }
            });
        });
        let _ = dropped.join();
    }
}
