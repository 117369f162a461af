//! The real `portico` binary as a child process: several instances on one database.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::ADMIN_PASSWORD;

/// A running `portico serve`, killed when dropped.
pub struct Instance {
    child: Child,
    pub base: String,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Instance {
    /// Starts `portico serve` on `db_url` with `args` and waits until it is ready.
    pub async fn start(db_url: &str, args: &[&str]) -> Instance {
        let bind = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_portico"))
            .args(["serve", "--database-url", db_url, "--bind", &bind])
            .args(args)
            .env("PORTICO_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PORTICO_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start portico");
        let instance = Instance {
            child,
            base: format!("http://{bind}"),
        };
        for _ in 0..300 {
            if let Ok(r) = reqwest::get(format!("{}/readyz", instance.base)).await {
                if r.status() == 200 {
                    return instance;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("portico did not become ready at {}", instance.base);
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
