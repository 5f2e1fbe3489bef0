//! Many rows in one statement. On SQLite they are a `VALUES` list of `?` parameters
//! (see [`Dialect::values`]). On PostgreSQL each column is bound as one array literal
//! and the rows are `UNNEST`ed from the arrays: the statement then has the same text
//! and eight or so parameters whatever its row count, so each connection prepares it
//! once and PostgreSQL never parses it again, where a `VALUES` list of a thousand rows
//! was parsed and planned on every call (its parser was PostgreSQL's hottest function
//! in ingestion). Also here: the chunk size of such statements, which of them stay
//! prepared ([`bulk_query`]), and the float parameter the `Any` driver needs
//! ([`NullableDouble`]).

use std::fmt::Write as _;

use crate::dialect::Dialect;

/// Rows per multi-row statement: within both databases' parameter limits (at most 13
/// per row).
pub(crate) const CHUNK: usize = 1000;

/// A multi-row statement of `rows` rows. Only full chunks' statements are kept prepared:
/// each other row count is another statement text, and a prepared statement of a
/// thousand rows takes hundreds of kilobytes in each connection's statement cache.
pub(crate) fn bulk_query(
    sql: &str,
    rows: usize,
) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
    sqlx::query(sql).persistent(rows == CHUNK)
}

/// An optional `f64` parameter for the `Any` driver. sqlx 0.8.6 crosses the types of
/// float NULLs when it hands `Any` arguments to PostgreSQL (a NULL `f64` goes as
/// `float4`, a NULL `f32` as `float8`, in `AnyArguments::convert_to`); PostgreSQL then
/// refuses a cached statement first prepared with a NULL when it is reused with a value
/// ("incorrect binary data format"), and the writer's batch fails. A NULL is therefore
/// sent as what arrives as `float8`. (The test below fails if sqlx fixes one half only.)
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NullableDouble(pub(crate) Option<f64>);

impl sqlx::Type<sqlx::Any> for NullableDouble {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <f64 as sqlx::Type<sqlx::Any>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Any> for NullableDouble {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        match self.0 {
            Some(value) => <f64 as sqlx::Encode<'q, sqlx::Any>>::encode_by_ref(&value, buf),
            None => <Option<f32> as sqlx::Encode<'q, sqlx::Any>>::encode_by_ref(&None, buf),
        }
    }
}

/// A column's values, as bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Int(i64),
    MaybeInt(Option<i64>),
    Float(Option<f64>),
    Text(Option<&'a str>),
}

/// The element type of a column on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    Float,
    Text,
}

impl Kind {
    fn array_type(self) -> &'static str {
        match self {
            Self::Int => "int8[]",
            Self::Float => "float8[]",
            Self::Text => "text[]",
        }
    }
}

/// Rows of one statement, row by row.
pub(crate) struct Rows<'a> {
    dialect: Dialect,
    kinds: &'static [Kind],
    values: Vec<Value<'a>>,
}

impl<'a> Rows<'a> {
    /// No rows yet, of columns of `kinds`.
    pub(crate) fn new(dialect: Dialect, kinds: &'static [Kind], capacity: usize) -> Self {
        Self {
            dialect,
            kinds,
            values: Vec::with_capacity(capacity * kinds.len()),
        }
    }

    /// The rows `rows`, of columns of `kinds`.
    pub(crate) fn of<const N: usize>(
        dialect: Dialect,
        kinds: &'static [Kind],
        rows: &[[Value<'a>; N]],
    ) -> Self {
        debug_assert_eq!(N, kinds.len());
        Self {
            dialect,
            kinds,
            values: rows.iter().flatten().copied().collect(),
        }
    }

    /// Adds one row: one value per column, of its kind.
    pub(crate) fn push(&mut self, row: &[Value<'a>]) {
        debug_assert_eq!(row.len(), self.kinds.len());
        self.values.extend_from_slice(row);
    }

    /// The rows added.
    pub(crate) fn len(&self) -> usize {
        self.values.len() / self.kinds.len()
    }

    /// The rows as the source of an `INSERT`: `VALUES (?, …), …` or
    /// `SELECT * FROM UNNEST($1::text::int8[], …)`.
    pub(crate) fn insert_source(&self) -> String {
        match self.dialect {
            Dialect::Sqlite => format!(
                "VALUES {}",
                self.dialect.values(self.len(), self.kinds.len())
            ),
            Dialect::Postgres => format!("SELECT * FROM {}", self.unnest()),
        }
    }

    /// The rows as a `FROM` item `v` whose columns are `column1`, `column2`, …
    pub(crate) fn as_table(&self) -> String {
        match self.dialect {
            Dialect::Sqlite => format!(
                "(VALUES {}) AS v",
                self.dialect.values(self.len(), self.kinds.len())
            ),
            Dialect::Postgres => {
                let names: Vec<String> = (1..=self.kinds.len())
                    .map(|i| format!("column{i}"))
                    .collect();
                format!("{} AS v({})", self.unnest(), names.join(", "))
            }
        }
    }

    fn unnest(&self) -> String {
        let arrays: Vec<String> = self
            .kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| format!("${}::text::{}", i + 1, kind.array_type()))
            .collect();
        format!("UNNEST({})", arrays.join(", "))
    }

    /// The statement `sql`, whose rows came from [`Self::insert_source`] or
    /// [`Self::as_table`] (with no other parameters), with the rows bound. On
    /// PostgreSQL its text is the same for every row count, so it is kept prepared; on
    /// SQLite only full chunks' are (see [`bulk_query`]).
    pub(crate) fn query<'q>(
        self,
        sql: &'q str,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>
    where
        'a: 'q,
    {
        let mut query = match self.dialect {
            Dialect::Sqlite => bulk_query(sql, self.len()),
            Dialect::Postgres => sqlx::query(sql),
        };
        match self.dialect {
            Dialect::Sqlite => {
                for value in self.values {
                    query = match value {
                        Value::Int(v) => query.bind(v),
                        Value::MaybeInt(v) => query.bind(v),
                        Value::Float(v) => query.bind(NullableDouble(v)),
                        Value::Text(v) => query.bind(v),
                    };
                }
                query
            }
            Dialect::Postgres => {
                for array in self.arrays() {
                    query = query.bind(array);
                }
                query
            }
        }
    }

    /// One PostgreSQL array literal per column.
    fn arrays(&self) -> Vec<String> {
        let columns = self.kinds.len();
        let rows = self.len();
        (0..columns)
            .map(|column| {
                let mut literal = String::with_capacity(rows * 12 + 2);
                literal.push('{');
                for row in 0..rows {
                    if row > 0 {
                        literal.push(',');
                    }
                    push_element(&mut literal, self.values[row * columns + column]);
                }
                literal.push('}');
                literal
            })
            .collect()
    }
}

/// One element of an array literal. Floats are written in Rust's shortest form that
/// reads back to the same value (never an exponent, never lossy); texts are quoted
/// with `"` and `\` escaped, so any text (commas, braces, `NULL`) stays itself.
fn push_element(literal: &mut String, value: Value<'_>) {
    match value {
        Value::Int(v) => {
            let _ = write!(literal, "{v}");
        }
        Value::Float(Some(v)) => {
            let _ = write!(literal, "{v}");
        }
        Value::MaybeInt(Some(v)) => {
            let _ = write!(literal, "{v}");
        }
        Value::MaybeInt(None) | Value::Float(None) | Value::Text(None) => literal.push_str("NULL"),
        Value::Text(Some(text)) => {
            literal.push('"');
            for c in text.chars() {
                if c == '"' || c == '\\' {
                    literal.push('\\');
                }
                literal.push(c);
            }
            literal.push('"');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: &[Kind] = &[Kind::Int, Kind::Float, Kind::Text];

    fn rows(dialect: Dialect) -> Rows<'static> {
        let mut rows = Rows::new(dialect, KINDS, 2);
        rows.push(&[
            Value::Int(-3),
            Value::Float(Some(0.1)),
            Value::Text(Some(r#"a,"b"\{NULL}"#)),
        ]);
        rows.push(&[Value::Int(i64::MAX), Value::Float(None), Value::Text(None)]);
        rows
    }

    #[test]
    fn sqlite_takes_a_values_list() {
        let rows = rows(Dialect::Sqlite);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.insert_source(), "VALUES (?,?,?),(?,?,?)");
        assert_eq!(rows.as_table(), "(VALUES (?,?,?),(?,?,?)) AS v");
    }

    #[test]
    fn postgres_takes_one_array_per_column() {
        let rows = rows(Dialect::Postgres);
        assert_eq!(
            rows.insert_source(),
            "SELECT * FROM UNNEST($1::text::int8[], $2::text::float8[], $3::text::text[])"
        );
        assert!(
            rows.as_table()
                .ends_with(" AS v(column1, column2, column3)")
        );
        assert_eq!(
            rows.arrays(),
            [
                format!("{{-3,{}}}", i64::MAX),
                "{0.1,NULL}".to_owned(),
                r#"{"a,\"b\"\\{NULL}",NULL}"#.to_owned()
            ]
        );
    }

    /// The NULL-float crossing described at [`NullableDouble`], on one PostgreSQL
    /// connection so that the second statement reuses the first one's preparation.
    #[tokio::test]
    async fn a_statement_prepared_with_null_floats_takes_values_later() {
        let Some(pool) = crate::testing::one_postgres_connection().await else {
            return;
        };
        sqlx::query("CREATE TABLE floats (id BIGINT PRIMARY KEY, x DOUBLE PRECISION)")
            .execute(&pool)
            .await
            .unwrap();
        let insert = "INSERT INTO floats (id, x) VALUES ($1, $2)";
        for (id, x) in [(1_i64, None), (2, Some(2.5)), (3, None), (4, Some(-1.0))] {
            sqlx::query(insert)
                .bind(id)
                .bind(NullableDouble(x))
                .execute(&pool)
                .await
                .unwrap_or_else(|error| panic!("row {id}: {error}"));
        }
        let sum: f64 = sqlx::query_scalar("SELECT SUM(x) FROM floats")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(sum, 1.5);
    }

    /// The literals read back exactly, on a real PostgreSQL: extreme floats, and texts
    /// with every character an array literal treats specially.
    #[tokio::test]
    async fn postgres_reads_the_arrays_back_exactly() {
        let Some(pool) = crate::testing::one_postgres_connection().await else {
            return;
        };
        let floats = [
            0.1,
            -0.0,
            1e300,
            -2.5e-300,
            f64::MIN_POSITIVE,
            5e-324,
            123456789.125,
        ];
        let texts = [
            "",
            "NULL",
            "a b",
            r#"x"y"#,
            r"back\slash",
            "{,}",
            "é ✓",
            " lead",
        ];
        let mut rows = Rows::new(Dialect::Postgres, KINDS, floats.len());
        for (i, (&f, &t)) in floats.iter().zip(texts.iter().cycle()).enumerate() {
            rows.push(&[
                Value::Int(i as i64),
                Value::Float(Some(f)),
                Value::Text(Some(t)),
            ]);
        }
        let sql = format!(
            "SELECT column1, column2, column3 FROM {} ORDER BY column1",
            rows.as_table()
        );
        let back: Vec<(i64, f64, String)> = rows
            .query(&sql)
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|row| {
                use sqlx::Row;
                (row.get(0), row.get(1), row.get(2))
            })
            .collect();
        assert_eq!(back.len(), floats.len());
        for (i, (index, f, t)) in back.into_iter().enumerate() {
            assert_eq!(index, i as i64);
            assert_eq!(f.to_bits(), floats[i].to_bits(), "float {i}");
            assert_eq!(t, texts[i % texts.len()], "text {i}");
        }
    }
}
