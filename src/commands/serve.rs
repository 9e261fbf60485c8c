//! `tokenctl serve`: see `crate::serve`.

use anyhow::Result;

use super::Context;
use crate::cli::ServeArgs;
use crate::serve::{self, Config};
use crate::values;

pub fn run(ctx: &Context, args: ServeArgs) -> Result<()> {
    let trusted = args
        .trust_proxy
        .iter()
        .map(|net| values::ip_net(net))
        .collect::<Result<Vec<_>, _>>()?;
    serve::run(Config {
        db: ctx.db.clone(),
        listen: args.listen,
        trusted,
    })
}
