//! Statements sent unprepared, with their parameters' types given: a
//! command runs each statement once, so preparing it first (a round trip
//! of its own, then a close) only doubles the conversation with the
//! server. `query_typed` parses, binds and runs in one round trip.
//! (`tokenctl serve`, which runs the same few statements for ever, keeps
//! prepared ones: `pool.rs`.)

use postgres::types::{ToSql, Type};

/// A value with the PostgreSQL type it is sent as.
pub trait Param: ToSql + Sync {
    fn pg_type(&self) -> Type;
    fn as_sql(&self) -> &(dyn ToSql + Sync);
}

/// A Rust type's PostgreSQL type, known without a value (for `None`).
pub trait Typed {
    fn pg_type() -> Type;
}

impl<T: Typed + ToSql + Sync> Param for T {
    fn pg_type(&self) -> Type {
        T::pg_type()
    }
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        self
    }
}

impl<T: Typed> Typed for Option<T> {
    fn pg_type() -> Type {
        T::pg_type()
    }
}

macro_rules! typed {
    ($($rust:ty => $pg:ident),* $(,)?) => {
        $(impl Typed for $rust {
            fn pg_type() -> Type {
                Type::$pg
            }
        })*
    };
}

typed! {
    bool => BOOL,
    i64 => INT8,
    &str => TEXT,
    String => TEXT,
    &[&str] => TEXT_ARRAY,
}

impl<T: Typed> Typed for Vec<T> {
    fn pg_type() -> Type {
        match T::pg_type() {
            Type::BOOL => Type::BOOL_ARRAY,
            Type::INT8 => Type::INT8_ARRAY,
            _ => Type::TEXT_ARRAY,
        }
    }
}

/// `params` as `query_typed` takes them.
pub fn typed<'a>(params: &[&'a dyn Param]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params.iter().map(|p| (p.as_sql(), p.pg_type())).collect()
}
