//! The stub runtime behaves like an agent TUI.

use crate::common::TestEnv;

#[test]
fn the_stub_talks_like_an_agent() {
    let env = TestEnv::new();
    env.fleet(&[
        "start",
        "stubby",
        "--runtime",
        "stub",
        "--model",
        "demo/m",
        "--effort",
        "high",
    ])
    .success();
    env.wait_screen("stubby", "model: demo/m \u{2022} effort: high");
    env.type_line("stubby", "hello -x C-c a;b");
    env.wait_screen("stubby", "echo: hello -x C-c a;b");
    env.type_line("stubby", "work 3");
    env.wait_screen("stubby", "working... step 3/3");
    env.type_line("stubby", "ask");
    env.wait_screen("stubby", "Allow command? [y/n]");
    env.type_line("stubby", "y");
    env.wait_screen("stubby", "approved.");
    env.type_line("stubby", "exit 9");
    assert_eq!(env.wait_exit("stubby"), 9);
}

#[test]
fn the_stub_can_work_ask_and_exit_on_its_own() {
    let env = TestEnv::new();
    let stub = crate::common::STUB;
    env.fleet(&[
        "start",
        "auto",
        "--",
        stub,
        "--work-every",
        "0.2",
        "--ask-after",
        "0.3",
        "--exit-after",
        "1.5",
        "--exit-code",
        "4",
    ])
    .success();
    env.wait_screen("auto", "working... step 3/3");
    env.wait_screen("auto", "Allow command? [y/n]");
    assert_eq!(env.wait_exit("auto"), 4);
}
