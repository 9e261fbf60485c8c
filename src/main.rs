#[global_allocator]
static ALLOCATOR: tokenctl::alloc::HugePages = tokenctl::alloc::HugePages;

fn main() -> std::process::ExitCode {
    tokenctl::run()
}
