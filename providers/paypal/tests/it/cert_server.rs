//! A local stand-in for PayPal's certificate URL that counts every request it receives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

pub struct CertServer {
    addr: SocketAddr,
    state: Arc<Documents>,
}

struct Documents {
    by_path: HashMap<String, Vec<u8>>,
    hits: AtomicUsize,
}

impl CertServer {
    /// Serves each `(path, document)`; any other path answers 404. Every request is counted.
    pub async fn start(documents: Vec<(&str, Vec<u8>)>) -> Self {
        let state = Arc::new(Documents {
            by_path: documents.into_iter().map(|(path, body)| (path.to_owned(), body)).collect(),
            hits: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(serve).with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, state }
    }

    /// `127.0.0.1:port`, the form `allowed_cert_hosts` takes.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }
}

async fn serve(State(documents): State<Arc<Documents>>, uri: Uri) -> Response {
    documents.hits.fetch_add(1, Ordering::SeqCst);
    match documents.by_path.get(uri.path()) {
        Some(body) => body.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
