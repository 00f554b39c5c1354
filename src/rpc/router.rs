//! The method table: name → handler, plus SPDK's framework methods.
//!
//! Handlers are async closures from `params` (absent/`null` → `None`) to a
//! result value or an [`RpcError`]. The server calls [`Router::call`]; the
//! UI's in-process `Control` can call it directly.
//!
//! What SPDK's `lib/rpc/rpc.c` does and we mirror:
//! * unknown method → -32601 "Method not found";
//! * a method not allowed in the current state → -1 with SPDK's text. We are
//!   always in SPDK's RUNTIME state (there is no `--wait-for-rpc` phase), so
//!   this only affects `framework_start_init` (golden file 79);
//! * `rpc_get_methods` lists names newest-registered first. In SPDK the
//!   core library's constructors run after the modules', which is why
//!   `spdk_get_version` and `rpc_get_methods` lead its list (golden files 03
//!   and 16). We reproduce that shape: the framework methods count as
//!   registered after everything else, so [`Router::methods`] is the
//!   framework methods (newest first) followed by the application's
//!   (newest first).
//!
//! Registering a name twice replaces the handler in place (SPDK refuses the
//! second registration and logs an error); this lets the application
//! override e.g. `framework_wait_init`.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::engine_thread::EngineThread;
use super::error::RpcError;
use super::params;

pub type RpcResult = Result<Value, RpcError>;
pub type MethodFuture = Pin<Box<dyn Future<Output = RpcResult> + Send>>;
pub type MethodFn = Arc<dyn Fn(Option<Value>) -> MethodFuture + Send + Sync>;

/// SPDK's reply to a startup-only method at runtime.
pub const MSG_ONLY_BEFORE_INIT: &str = "Method may only be called before framework is initialized. Use --wait-for-rpc command line parameter and then issue this RPC before the framework_start_init RPC.";

/// The SPDK release whose RPC surface we present (see [`Router::new`]).
pub const SPDK_VERSION_MAJOR: u32 = 24;
pub const SPDK_VERSION_MINOR: u32 = 9;
pub const SPDK_VERSION_PATCH: u32 = 0;

#[derive(Clone)]
enum Handler {
    Func(MethodFn),
    GetMethods,
    /// Startup-only framework methods: never callable at runtime.
    StartupOnly,
}

#[derive(Clone)]
struct Entry {
    name: &'static str,
    handler: Handler,
    /// Callable in SPDK's RUNTIME state.
    runtime: bool,
    /// One of the framework methods registered by [`Router::new`].
    framework: bool,
}

/// Aborts the task when the call that awaits it is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<RpcResult>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The method table.
#[derive(Clone)]
pub struct Router {
    app: String,
    /// In registration order.
    entries: Vec<Entry>,
    index: HashMap<&'static str, usize>,
    /// The thread the methods run on (and so every task they spawn), when
    /// not the caller's: see [`Router::run_on`]. It lives as long as some
    /// clone of this router does.
    home: Option<Arc<EngineThread>>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("app", &self.app)
            .field("methods", &self.methods())
            .finish()
    }
}

impl Router {
    /// A table with the framework methods:
    ///
    /// * `framework_start_init`: startup-only, so at runtime it answers
    ///   -1 [`MSG_ONLY_BEFORE_INIT`], as SPDK does after init;
    /// * `framework_wait_init`: `true` (we are initialized whenever the
    ///   server runs); params ignored, as in SPDK;
    /// * `rpc_get_methods`: `current`/`include_aliases` booleans, strict
    ///   decode, -32602 "Invalid parameters" otherwise;
    /// * `spdk_get_version`: any params → -32602 "spdk_get_version method
    ///   requires no parameters". The result has SPDK's shape with
    ///   `fields` saying 24.9.0: we implement v24.09's RPC surface, and
    ///   tools that branch on the version (e.g. perform_tests' result shape,
    ///   the attach default) must take the v24.09 branch. The `version`
    ///   text starts like SPDK's (`"SPDK v24.09"`) so version regexes match,
    ///   then says honestly what answers: `"SPDK v24.09 (mpath-console
    ///   0.1.0; <app>)"`. `commit` is omitted, as in SPDK builds made outside
    ///   git: we are not an SPDK commit.
    ///
    /// `app` names the role of this server (e.g. `"nvmf_tgt"`,
    /// `"bdevperf"`); it only appears in the version text.
    pub fn new(app: &str) -> Self {
        let mut r = Router {
            app: app.to_string(),
            entries: Vec::new(),
            index: HashMap::new(),
            home: None,
        };
        r.insert("framework_start_init", Handler::StartupOnly, false, true);
        let wait_init: MethodFn = Arc::new(|_params| Box::pin(async { Ok(Value::Bool(true)) }));
        r.insert("framework_wait_init", Handler::Func(wait_init), true, true);
        r.insert("rpc_get_methods", Handler::GetMethods, true, true);
        let version = version_result(app);
        let get_version: MethodFn = Arc::new(move |params| {
            let version = version.clone();
            Box::pin(async move {
                if params.is_some() {
                    return Err(RpcError::invalid_params_msg(
                        "spdk_get_version method requires no parameters",
                    ));
                }
                Ok(version)
            })
        });
        r.insert("spdk_get_version", Handler::Func(get_version), true, true);
        r
    }

    /// The `app` given to [`Router::new`].
    pub fn app(&self) -> &str {
        &self.app
    }

    fn insert(&mut self, name: &'static str, handler: Handler, runtime: bool, framework: bool) {
        if let Some(&i) = self.index.get(name) {
            tracing::debug!("RPC method {name} registered again; replacing its handler");
            let e = &mut self.entries[i];
            e.handler = handler;
            e.runtime = runtime;
            return;
        }
        self.index.insert(name, self.entries.len());
        self.entries.push(Entry {
            name,
            handler,
            runtime,
            framework,
        });
    }

    /// Add (or replace) a method callable at runtime.
    pub fn register(&mut self, name: &'static str, f: MethodFn) {
        self.insert(name, Handler::Func(f), true, false);
    }

    /// [`Router::register`] for a plain async closure.
    pub fn register_fn<F, Fut>(&mut self, name: &'static str, f: F)
    where
        F: Fn(Option<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = RpcResult> + Send + 'static,
    {
        self.register(name, Arc::new(move |p| Box::pin(f(p)) as MethodFuture));
    }

    /// Runs every method on `thread` instead of the caller's runtime, so
    /// the tasks a method spawns (connections, jobs) live there too: how
    /// an engine gets a thread of its own. Dropping the call's future
    /// still cancels the method, as when it runs in place.
    pub fn run_on(&mut self, thread: Arc<EngineThread>) {
        self.home = Some(thread);
    }

    /// Whether `name` is in the table (callable now or not).
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Run `method`. Unknown → -32601; not callable at runtime → -1.
    pub async fn call(&self, method: &str, params: Option<Value>) -> RpcResult {
        let Some(&i) = self.index.get(method) else {
            return Err(RpcError::method_not_found());
        };
        let entry = &self.entries[i];
        if !entry.runtime {
            return Err(RpcError::state(MSG_ONLY_BEFORE_INIT));
        }
        match &entry.handler {
            Handler::Func(f) => match &self.home {
                None => f(params).await,
                Some(home) => {
                    let mut task = AbortOnDrop(home.handle().spawn(f(params)));
                    match (&mut task.0).await {
                        Ok(r) => r,
                        Err(e) => Err(RpcError::internal_msg(format!("{method}: {e}"))),
                    }
                }
            },
            Handler::GetMethods => self.get_methods(params),
            Handler::StartupOnly => Err(RpcError::state(MSG_ONLY_BEFORE_INIT)),
        }
    }

    /// All method names, as `rpc_get_methods` lists them (see module docs).
    pub fn methods(&self) -> Vec<&'static str> {
        let fw = self.entries.iter().rev().filter(|e| e.framework);
        let app = self.entries.iter().rev().filter(|e| !e.framework);
        fw.chain(app).map(|e| e.name).collect()
    }

    fn get_methods(&self, params: Option<Value>) -> RpcResult {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Req {
            #[serde(default, deserialize_with = "params::non_null")]
            current: Option<bool>,
            // We register no aliases; the flag is accepted and has no effect.
            #[serde(default, deserialize_with = "params::non_null")]
            #[allow(dead_code)]
            include_aliases: Option<bool>,
        }
        let req: Req = params::decode(params, RpcError::invalid_params)?;
        let current = req.current.unwrap_or(false);
        let names: Vec<Value> = self
            .methods()
            .into_iter()
            .filter(|name| {
                !current
                    || self
                        .index
                        .get(name)
                        .is_some_and(|&i| self.entries[i].runtime)
            })
            .map(|n| Value::String(n.to_string()))
            .collect();
        Ok(Value::Array(names))
    }
}

fn version_result(app: &str) -> Value {
    let ours = format!("mpath-console {}", env!("CARGO_PKG_VERSION"));
    let text = if app.is_empty() {
        format!("SPDK v{SPDK_VERSION_MAJOR}.{SPDK_VERSION_MINOR:02} ({ours})")
    } else {
        format!("SPDK v{SPDK_VERSION_MAJOR}.{SPDK_VERSION_MINOR:02} ({ours}; {app})")
    };
    json!({
        "version": text,
        "fields": {
            "major": SPDK_VERSION_MAJOR,
            "minor": SPDK_VERSION_MINOR,
            "patch": SPDK_VERSION_PATCH,
            "suffix": "",
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn router() -> Router {
        let mut r = Router::new("nvmf_tgt");
        r.register_fn("first_method", |_| async { Ok(json!(1)) });
        r.register_fn(
            "second_method",
            |p| async move { Ok(p.unwrap_or(Value::Null)) },
        );
        r
    }

    /// `run_on`: methods, and the tasks they spawn, run on the engine's
    /// thread; dropping a call cancels its method there.
    #[tokio::test]
    async fn run_on_runs_methods_on_the_engine_thread() {
        let mut r = Router::new("nvmf_tgt");
        r.register_fn("where", |_| async {
            let spawned = tokio::spawn(async { thread_name() }).await.unwrap();
            Ok(json!([thread_name(), spawned]))
        });
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let tx = std::sync::Mutex::new(Some(tx));
        r.register_fn("forever", move |_| {
            // Dropped (closing the channel) when the method is cancelled.
            let guard = tx.lock().unwrap().take();
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok(Value::Null)
            }
        });
        r.run_on(EngineThread::start("engine-test").expect("thread"));
        assert_eq!(
            r.call("where", None).await.unwrap(),
            json!(["engine-test", "engine-test"])
        );
        let call = r.call("forever", None);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), call)
                .await
                .is_err(),
            "never answers"
        );
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected),
            "the dropped call's method was cancelled"
        );
    }

    fn thread_name() -> String {
        std::thread::current().name().unwrap_or("?").to_string()
    }

    #[test]
    fn methods_are_listed_newest_first_framework_leading() {
        assert_eq!(
            router().methods(),
            vec![
                "spdk_get_version",
                "rpc_get_methods",
                "framework_wait_init",
                "framework_start_init",
                "second_method",
                "first_method"
            ]
        );
    }

    #[test]
    fn golden_method_order_rule() {
        // In SPDK's list (file 03) the framework methods keep this relative
        // order, which is what reverse registration gives.
        let dir = crate::rpc::test_support::vectors_dir();
        let f = crate::rpc::test_support::golden_file(&dir, "03-rpc_get_methods.json");
        let raw = f["response_raw"].as_str().unwrap();
        let v: Value = serde_json::from_str(raw).unwrap();
        let listed: Vec<&str> = v["result"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .filter(|n| Router::new("").contains(n))
            .collect();
        assert_eq!(
            listed,
            [
                "spdk_get_version",
                "rpc_get_methods",
                "framework_wait_init",
                "framework_start_init"
            ]
        );
        assert_eq!(&listed, &Router::new("").methods());
    }

    #[test]
    fn calls_and_errors() {
        let r = router();
        assert_eq!(block_on(r.call("first_method", None)), Ok(json!(1)));
        assert_eq!(
            block_on(r.call("second_method", Some(json!({"a": 1})))),
            Ok(json!({"a": 1}))
        );
        assert_eq!(
            block_on(r.call("no_such_method", None)),
            Err(RpcError::method_not_found())
        );
        // Golden file 79.
        assert_eq!(
            block_on(r.call("framework_start_init", None)),
            Err(RpcError::new(-1, MSG_ONLY_BEFORE_INIT))
        );
        assert_eq!(
            block_on(r.call("framework_wait_init", Some(json!([1])))),
            Ok(json!(true))
        );
    }

    #[test]
    fn spdk_get_version_shape_and_params() {
        let r = router();
        let v = block_on(r.call("spdk_get_version", None)).unwrap();
        assert_eq!(
            v,
            json!({"version": format!("SPDK v24.09 (mpath-console {}; nvmf_tgt)", env!("CARGO_PKG_VERSION")),
                   "fields": {"major": 24, "minor": 9, "patch": 0, "suffix": ""}})
        );
        let keys: Vec<&String> = v["fields"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["major", "minor", "patch", "suffix"]);
        for p in [json!({}), json!([]), json!({"x": 1})] {
            assert_eq!(
                block_on(r.call("spdk_get_version", Some(p))),
                Err(RpcError::invalid_params_msg(
                    "spdk_get_version method requires no parameters"
                ))
            );
        }
    }

    #[test]
    fn rpc_get_methods_params() {
        let r = router();
        let all = block_on(r.call("rpc_get_methods", None)).unwrap();
        assert_eq!(all.as_array().unwrap().len(), 6);
        let same = block_on(r.call(
            "rpc_get_methods",
            Some(json!({"current": false, "include_aliases": false})),
        ))
        .unwrap();
        assert_eq!(all, same);
        let current = block_on(r.call("rpc_get_methods", Some(json!({"current": true})))).unwrap();
        assert!(!current
            .as_array()
            .unwrap()
            .contains(&json!("framework_start_init")));
        assert_eq!(current.as_array().unwrap().len(), 5);
        for bad in [
            json!({"current": 1}),
            json!({"current": null}),
            json!({"other": true}),
            json!([true]),
        ] {
            assert_eq!(
                block_on(r.call("rpc_get_methods", Some(bad))),
                Err(RpcError::invalid_params())
            );
        }
    }

    #[test]
    fn reregistering_replaces_in_place() {
        let mut r = router();
        r.register_fn("framework_wait_init", |_| async { Ok(json!("custom")) });
        r.register_fn("first_method", |_| async { Ok(json!(2)) });
        assert_eq!(
            block_on(r.call("framework_wait_init", None)),
            Ok(json!("custom"))
        );
        assert_eq!(block_on(r.call("first_method", None)), Ok(json!(2)));
        assert_eq!(r.methods(), router().methods());
        assert!(format!("{r:?}").contains("first_method"));
    }
}
