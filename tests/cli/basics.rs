use crate::common::TestEnv;

#[test]
fn create_then_verify_then_revoke() {
    let env = TestEnv::new();
    let token = env.create("deploy", &[]);
    assert!(token.starts_with("tct_") && token.len() == 50, "{token}");
    assert!(env.verify(&token, &[]).status.success());
    env.ok(&["token", "revoke", "deploy", "--yes"]);
    assert_eq!(env.verify(&token, &[]).status.code(), Some(5));
}
