//! `tokenctl serve`: see `crate::serve`.

use std::net::ToSocketAddrs;

use anyhow::Result;

use super::Context;
use crate::cli::ServeArgs;
use crate::error::Error;
use crate::serve::{self, Config};
use crate::values;

pub fn run(ctx: &Context, args: ServeArgs) -> Result<()> {
    let trusted = args
        .trust_proxy
        .iter()
        .map(|net| values::ip_net(net))
        .collect::<Result<Vec<_>, _>>()?;
    let listen = args
        .listen
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| {
            Error::usage(format!("cannot listen on {:?}", args.listen))
                .with_hint("give an address and port, such as 127.0.0.1:8089 or localhost:8089")
        })?;
    serve::run(Config {
        db: ctx.db.clone(),
        listen,
        trusted,
    })
}
