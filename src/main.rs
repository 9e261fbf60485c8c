fn main() -> std::process::ExitCode {
    tokenctl::run()
}
