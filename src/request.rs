//! What every transport reads off a request the same way.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The caller's address: the peer, or the proxy-reported client when trusted.
pub fn client_address(req: &HttpRequest, trust_proxy: bool) -> Option<IpAddr> {
    if trust_proxy {
        let info = req.connection_info();
        if let Some(addr) = info.realip_remote_addr() {
            if let Ok(ip) = addr.parse::<IpAddr>() {
                return Some(ip);
            }
            if let Ok(sock) = addr.parse::<std::net::SocketAddr>() {
                return Some(sock.ip());
            }
        }
    }
    req.peer_addr().map(|a| a.ip())
}
