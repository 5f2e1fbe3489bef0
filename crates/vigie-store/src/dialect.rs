//! What differs between the two databases: the store runs one SQL text on both
//! through sqlx's `Any` driver, and asks its [`Dialect`] for the few words that differ.

/// The database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Embedded SQLite (the default).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Dialect {
    /// The backend's name, as `/readyz` reports it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// The statement that opens a write transaction. SQLite takes the write lock at once,
    /// so that two writers never deadlock upgrading a read lock.
    pub(crate) fn begin(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }

    /// The function giving the position of a text in another (0 when absent).
    pub(crate) fn position_function(self) -> &'static str {
        match self {
            Self::Sqlite => "instr",
            Self::Postgres => "strpos",
        }
    }

    /// `(…), (…)`: `rows` groups of `columns` parameters, for multi-row statements.
    /// PostgreSQL numbers them (`$1`); SQLite takes `?`, which it binds by position,
    /// where each `$n` would cost a lookup by name that grows with their number (it
    /// dominated bulk inserts). (sqlx's `QueryBuilder` cannot do this through `Any`,
    /// whose placeholders are always `?`.)
    pub(crate) fn values(self, rows: usize, columns: usize) -> String {
        let mut text = String::with_capacity(rows * columns * 5);
        for row in 0..rows {
            text.push_str(if row == 0 { "(" } else { ",(" });
            for column in 1..=columns {
                if column > 1 {
                    text.push(',');
                }
                match self {
                    Self::Postgres => {
                        text.push('$');
                        text.push_str(&(row * columns + column).to_string());
                    }
                    Self::Sqlite => text.push('?'),
                }
            }
            text.push(')');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_per_dialect() {
        assert_eq!(Dialect::Postgres.values(2, 2), "($1,$2),($3,$4)");
        assert_eq!(Dialect::Sqlite.values(2, 2), "(?,?),(?,?)");
    }
}
