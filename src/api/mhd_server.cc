// The libmicrohttpd server (include/jailwarden/api/mhd_server.h): the only
// code that calls libmicrohttpd. Each request becomes an Exchange shared by
// the MHD connection thread (which turns the handler's decision into an MHD
// response) and the handler's own thread (which writes through an
// ExchangeWriter).

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <deque>
#include <exception>
#include <optional>
#include <thread>

#include "api/mhd_exchange.h"
#include "api/mhd_internal.h"
#include "api/mhd_tls.h"
#include "jailwarden/api/mhd_server.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::api {

struct MhdServer::Daemon {
  MhdServer* server = nullptr;
  mhd_internal::BoundSocket socket;
  MHD_Daemon* mhd = nullptr;
  std::string cert_pem, key_pem, trust_pem;
  std::string priorities;
  mhd_internal::ClientAuth client_auth;
};

namespace {

using mhd_internal::ConnState;
using mhd_internal::Decision;
using mhd_internal::ErrorJson;
using mhd_internal::Exchange;
using mhd_internal::ExchangePtr;
using mhd_internal::ExchangeWriter;

thread_local std::string* g_start_error = nullptr;

void LogMhd(void*, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  std::string msg(StripWhitespace(buf));
  if (g_start_error != nullptr) {
    if (!g_start_error->empty()) g_start_error->append("; ");
    g_start_error->append(msg);
    return;
  }
  LogWarning("libmicrohttpd", {{"message", msg}});
}

MHD_Result CollectHeader(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* req = static_cast<HttpRequest*>(cls);
  if (key != nullptr) req->headers.emplace(AsciiToLower(key), value != nullptr ? value : "");
  return MHD_YES;
}

}  // namespace

// libmicrohttpd's callbacks; cls is the listener's MhdServer::Daemon.
class MhdGlue {
 public:
  static void* UriLog(void*, const char* uri, MHD_Connection*) {
    auto* holder = new ExchangePtr(std::make_shared<Exchange>());
    (*holder)->raw_uri = uri != nullptr ? uri : "/";
    return holder;
  }

  static void NotifyConnection(void* cls, MHD_Connection* c, void** socket_context,
                               MHD_ConnectionNotificationCode code) {
    auto* d = static_cast<MhdServer::Daemon*>(cls);
    MhdServer& s = *d->server;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      auto* st = new ConnState();
      st->is_unix = d->socket.is_unix;
      if (st->is_unix) {
        const MHD_ConnectionInfo* fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        st->uid = fd != nullptr ? mhd_internal::PeerUid(fd->connect_fd) : -1;
        st->peer = StrCat("unix:uid=", st->uid);
      } else {
        const MHD_ConnectionInfo* a = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        char text[INET6_ADDRSTRLEN] = "?";
        if (a != nullptr && a->client_addr != nullptr && a->client_addr->sa_family == AF_INET) {
          inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->client_addr)->sin_addr,
                    text, sizeof(text));
        }
        st->peer = text;
      }
      std::lock_guard<std::mutex> lock(s.mu_);
      ++s.peers_[st->peer];
      *socket_context = st;
      return;
    }
    auto* st = static_cast<ConnState*>(*socket_context);
    if (st == nullptr) return;
    {
      std::lock_guard<std::mutex> lock(s.mu_);
      auto it = s.peers_.find(st->peer);
      if (it != s.peers_.end() && --it->second <= 0) s.peers_.erase(it);
    }
    if (!st->saw_request && s.options_.rejected != nullptr) {
      s.options_.rejected->Add(RejectReason::kNoRequest);
    }
    delete st;
    *socket_context = nullptr;
  }

  static void Completed(void*, MHD_Connection*, void** req_cls,
                        MHD_RequestTerminationCode code) {
    auto* holder = static_cast<ExchangePtr*>(*req_cls);
    if (holder == nullptr) return;
    {
      Exchange& ex = **holder;
      std::lock_guard<std::mutex> lock(ex.mu);
      ex.gone = true;
      ex.gone_error = code != MHD_REQUEST_TERMINATED_COMPLETED_OK;
      ex.cv.notify_all();
    }
    delete holder;
    *req_cls = nullptr;
  }

  static MHD_Result Access(void* cls, MHD_Connection* c, const char*, const char* method,
                           const char*, const char* upload_data, std::size_t* upload_size,
                           void** req_cls) {
    auto* d = static_cast<MhdServer::Daemon*>(cls);
    auto* holder = static_cast<ExchangePtr*>(*req_cls);
    if (holder == nullptr) return MHD_NO;
    ExchangePtr ex = *holder;
    HttpRequest& req = ex->request;
    if (!ex->head_done) {
      ex->head_done = true;
      return Head(*d, c, ex, method);
    }
    if (*upload_size > 0) {
      if (!req.body_too_large) {
        if (req.body.size() + *upload_size > d->server->options_.max_body_bytes) {
          req.body_too_large = true;
          req.body.clear();
        } else {
          req.body.append(upload_data, *upload_size);
        }
      }
      *upload_size = 0;
      return MHD_YES;
    }
    return Run(*d, c, ex);
  }

 private:
  static MHD_Result Reply(MHD_Connection* c, int status, const std::string& body,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          std::string_view content_type = "application/json") {
    MHD_Response* r = MHD_create_response_from_buffer(
        body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
    return Queue(c, status, r, headers, content_type);
  }

  // A handler's body, sent from where it is: MHD keeps `owned` with the
  // response and deletes it (releasing the text, e.g. to a page pool) when
  // the response is destroyed, after the last byte went out or the client
  // went away.
  static MHD_Result ReplyOwned(MHD_Connection* c, int status, ResponseBody* owned,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               std::string_view content_type) {
    const std::string& text = owned->text();
    MHD_Response* r = MHD_create_response_from_buffer_with_free_callback_cls(
        text.size(), const_cast<char*>(text.data()),
        [](void* cls) { delete static_cast<ResponseBody*>(cls); }, owned);
    if (r == nullptr) {
      delete owned;
      return MHD_NO;
    }
    return Queue(c, status, r, headers, content_type);
  }

  // Adds the headers to `r`, queues it and drops this reference to it.
  static MHD_Result Queue(MHD_Connection* c, int status, MHD_Response* r,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          std::string_view content_type) {
    if (r == nullptr) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", std::string(content_type).c_str());
    MHD_add_response_header(r, "Cache-Control", "no-store");
    for (const auto& [k, v] : headers) MHD_add_response_header(r, k.c_str(), v.c_str());
    const MHD_Result ok = MHD_queue_response(c, static_cast<unsigned>(status), r);
    MHD_destroy_response(r);
    return ok;
  }

  static MHD_Result Head(MhdServer::Daemon& d, MHD_Connection* c, const ExchangePtr& exp,
                         const char* method) {
    MhdServer& s = *d.server;
    Exchange& ex = *exp;
    HttpRequest& req = ex.request;
    req.method = method != nullptr ? method : "";
    const std::size_t q = ex.raw_uri.find('?');
    req.path = ex.raw_uri.substr(0, q);
    if (q != std::string::npos) req.query = ParseQuery(std::string_view(ex.raw_uri).substr(q + 1));
    MHD_get_connection_values(c, MHD_HEADER_KIND, CollectHeader, &req);
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    auto* st = info != nullptr ? static_cast<ConnState*>(info->socket_context) : nullptr;
    if (st != nullptr) st->saw_request = true;
    if (!d.cert_pem.empty()) {
      if (std::optional<std::string> why = mhd_internal::ClientCertProblem(c, d.client_auth)) {
        if (s.options_.rejected != nullptr) s.options_.rejected->Add(RejectReason::kUnauthenticated);
        return Reply(c, 403, ErrorJson("PERMISSION_DENIED", *why), {{"Connection", "close"}});
      }
    }
    if (st != nullptr) {
      req.remote_addr = st->peer;
      req.remote_is_loopback = st->is_unix || IsLoopbackAddress(st->peer);
      if (st->is_unix) {
        req.peer_is_admin = st->uid == 0 || st->uid == static_cast<long>(geteuid());
        if (!req.peer_is_admin) {
          if (s.options_.rejected != nullptr) s.options_.rejected->Add(RejectReason::kUnauthenticated);
          return Reply(c, 403,
                       ErrorJson("PERMISSION_DENIED",
                                 StrCat("uid ", st->uid, " may not use the admin socket")),
                       {});
        }
      }
    }
    if (s.options_.admit) {
      const int peers = s.PeerConnections(req.remote_addr);
      if (std::optional<Rejection> r = s.options_.admit(req, peers); r.has_value()) {
        if (s.options_.rejected != nullptr) s.options_.rejected->Add(r->reason);
        return Reply(c, r->status, r->body, r->headers);
      }
    }
    const char* length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (length != nullptr) {
      const std::optional<uint64_t> n = ParseInt<uint64_t>(length);
      // Not read: answered now (413 by the handler), then closed.
      if (n.has_value() && *n > s.options_.max_body_bytes) {
        req.body_too_large = true;
        return Run(d, c, exp);
      }
    }
    return MHD_YES;  // the body, then Run
  }

  static MHD_Result Run(MhdServer::Daemon& d, MHD_Connection* c, const ExchangePtr& ex) {
    MhdServer& s = *d.server;
    {
      std::lock_guard<std::mutex> lock(s.mu_);
      ++s.threads_;
    }
    std::thread([&s, ex] {
      ExchangeWriter writer(*ex, s.options_.io_timeout);
      try {
        s.handler_(ex->request, writer);
      } catch (const std::exception& e) {
        LogError("api handler failed", {{"error", e.what()}});
      } catch (...) {
        LogError("api handler failed", {{"error", "unknown exception"}});
      }
      writer.Send(500, "application/json", ErrorJson("INTERNAL", "internal error"), {});
      writer.Finish();
      std::lock_guard<std::mutex> lock(s.mu_);
      --s.threads_;
      s.cv_.notify_all();
    }).detach();
    std::unique_lock<std::mutex> lock(ex->mu);
    ex->cv.wait(lock, [&] { return ex->decision != Decision::kNone; });
    switch (ex->decision) {
      case Decision::kNone:
      case Decision::kSend: {
        const int status = ex->status;
        auto* owned = new ResponseBody(std::move(ex->body));
        const auto headers = std::move(ex->headers);
        const std::string type = ex->content_type;
        lock.unlock();
        return ReplyOwned(c, status, owned, headers, type);
      }
      case Decision::kStream: {
        auto* keep = new ExchangePtr(ex);
        MHD_Response* r = MHD_create_response_from_callback(
            MHD_SIZE_UNKNOWN, 16 * 1024, &Reader, keep, [](void* p) { delete static_cast<ExchangePtr*>(p); });
        if (r == nullptr) {
          delete keep;
          return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", ex->content_type.c_str());
        MHD_add_response_header(r, "Cache-Control", "no-store");
        MHD_add_response_header(r, "X-Accel-Buffering", "no");
        MHD_add_response_header(r, "Connection", "close");
        const int status = ex->status;
        lock.unlock();
        const MHD_Result ok = MHD_queue_response(c, static_cast<unsigned>(status), r);
        MHD_destroy_response(r);
        return ok;
      }
      case Decision::kUpgrade: {
        MHD_Response* r = MHD_create_response_for_upgrade(&Upgraded, &d);
        if (r == nullptr) return MHD_NO;
        MHD_add_response_header(r, "Upgrade", ex->protocol.c_str());
        MHD_add_response_header(r, "Connection", "Upgrade");
        for (const auto& [k, v] : ex->headers) MHD_add_response_header(r, k.c_str(), v.c_str());
        ex->upgrade_queued = true;
        lock.unlock();
        const MHD_Result ok = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, r);
        MHD_destroy_response(r);
        if (ok != MHD_YES) {
          lock.lock();
          ex->upgrade_queued = false;
          ex->upgraded = absl::FailedPreconditionError(
              "the server refused the upgrade (the request must be HTTP/1.1)");
          ex->cv.notify_all();
        }
        return ok;
      }
    }
    return MHD_NO;
  }

  static ssize_t Reader(void* cls, uint64_t, char* buf, std::size_t max) {
    Exchange& ex = **static_cast<ExchangePtr*>(cls);
    std::unique_lock<std::mutex> lock(ex.mu);
    // Never 0: thread-per-connection mode does not allow it.
    while (ex.chunks.empty() && !ex.finished && !ex.gone) {
      ex.cv.wait_for(lock, std::chrono::milliseconds(500));
    }
    if (ex.chunks.empty()) {
      return ex.finished ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    }
    std::string& front = ex.chunks.front();
    const std::size_t n = std::min(max, front.size());
    std::memcpy(buf, front.data(), n);
    if (n == front.size()) {
      ex.chunks.pop_front();
    } else {
      front.erase(0, n);
    }
    ex.buffered -= n;
    ex.cv.notify_all();
    return static_cast<ssize_t>(n);
  }

  static void Upgraded(void* cls, MHD_Connection*, void* req_cls, const char* extra_in,
                       std::size_t extra_in_size, MHD_socket sock,
                       MHD_UpgradeResponseHandle* urh) {
    MhdServer& s = *static_cast<MhdServer::Daemon*>(cls)->server;
    auto* holder = static_cast<ExchangePtr*>(req_cls);
    int sv[2];
    absl::StatusOr<base::UniqueFd> result;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      result = ErrnoStatus(errno, "socketpair for the upgraded connection");
      MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
    } else {
      result = base::UniqueFd(sv[0]);
      std::string extra(extra_in != nullptr ? extra_in : "", extra_in_size);
      {
        std::lock_guard<std::mutex> lock(s.mu_);
        ++s.relays_;
      }
      std::thread([&s, relay_end = sv[1], sock, extra = std::move(extra), urh]() mutable {
        mhd_internal::RelayUpgraded(relay_end, sock, std::move(extra), s.stopping_);
        close(relay_end);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        std::lock_guard<std::mutex> lock(s.mu_);
        --s.relays_;
        s.cv_.notify_all();
      }).detach();
    }
    if (holder == nullptr) return;  // nobody waits (cannot happen: the handler holds it)
    Exchange& ex = **holder;
    std::lock_guard<std::mutex> lock(ex.mu);
    ex.upgraded = std::move(result);
    ex.cv.notify_all();
  }
};

int MhdServer::PeerConnections(const std::string& peer) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second;
}

absl::StatusOr<std::unique_ptr<MhdServer>> MhdServer::Start(MhdServerOptions options,
                                                            HttpHandler handler) {
  if (options.listeners.empty()) return absl::InvalidArgumentError("no listen address");
  std::unique_ptr<MhdServer> s(new MhdServer());
  s->options_ = std::move(options);
  s->handler_ = std::move(handler);
  for (const MhdListener& l : s->options_.listeners) {
    auto d = std::make_unique<Daemon>();
    d->server = s.get();
    const bool is_unix = StartsWith(l.address, "unix:");
    if (is_unix && !l.cert_file.empty()) {
      return absl::InvalidArgumentError(
          ToAbsl(StrCat("listener ", l.address, ": TLS is for TCP listeners only")));
    }
    if (l.cert_file.empty() && (!l.client_ca_file.empty() ||
                                (!l.client_auth_type.empty() &&
                                 l.client_auth_type != "NoClientCert"))) {
      return absl::InvalidArgumentError(ToAbsl(StrCat(
          "listener ", l.address, ": client certificates need TLS (cert_file)")));
    }
    if (!l.cert_file.empty()) {
      auto cert = ReadFile(l.cert_file, 1 << 20);
      if (!cert.ok()) return absl::InvalidArgumentError(ToAbsl(StrCat("TLS certificate: ", ToStd(cert.status().message()))));
      auto key = ReadFile(l.key_file, 1 << 20);
      if (!key.ok()) return absl::InvalidArgumentError(ToAbsl(StrCat("TLS key: ", ToStd(key.status().message()))));
      d->cert_pem = std::move(*cert);
      d->key_pem = std::move(*key);
      JW_ASSIGN_OR_RETURN(d->client_auth, mhd_internal::ParseClientAuth(l));
      JW_ASSIGN_OR_RETURN(d->priorities, mhd_internal::PrioritiesFor(l));
      if (!l.client_ca_file.empty()) {
        auto ca = ReadFile(l.client_ca_file, 1 << 20);
        if (!ca.ok()) return absl::InvalidArgumentError(ToAbsl(StrCat("TLS client CA: ", ToStd(ca.status().message()))));
        if (ca->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
          return absl::InvalidArgumentError(ToAbsl(StrCat(
              "TLS client CA: ", l.client_ca_file, " holds no PEM certificate")));
        }
        d->trust_pem = std::move(*ca);
      } else if (d->client_auth.request) {
        // libmicrohttpd asks for a client certificate only when it has a
        // trust list; without client_ca_file (RequestClientCert,
        // RequireAnyClientCert) nothing is verified against it, so the
        // server's own certificate serves.
        d->trust_pem = d->cert_pem;
      }
      if (!d->client_auth.request) d->trust_pem.clear();
    }
    absl::StatusOr<mhd_internal::BoundSocket> bound =
        is_unix ? mhd_internal::BindUnix(std::string_view(l.address).substr(5))
                : mhd_internal::BindTcp(l.address);
    if (!bound.ok()) return bound.status();
    d->socket = std::move(*bound);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
                     MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;
    MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, d->cert_pem.data()},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, d->key_pem.data()},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, d->priorities.data()},
        {d->trust_pem.empty() ? MHD_OPTION_END : MHD_OPTION_HTTPS_MEM_TRUST, 0,
         d->trust_pem.data()},
        {MHD_OPTION_END, 0, nullptr},
    };
    if (!d->cert_pem.empty()) flags |= MHD_USE_TLS;
    MHD_OptionItem* tls_items = d->cert_pem.empty() ? &tls[4] : tls;
    const unsigned timeout = static_cast<unsigned>(
        std::max<int64_t>(1, absl::ToInt64Seconds(s->options_.io_timeout)));
    std::string start_error;
    g_start_error = &start_error;
    d->mhd = MHD_start_daemon(
        flags, 0, nullptr, nullptr, &MhdGlue::Access, d.get(),
        MHD_OPTION_LISTEN_SOCKET, d->socket.fd.get(),
        MHD_OPTION_CONNECTION_TIMEOUT, timeout,
        MHD_OPTION_CONNECTION_LIMIT, static_cast<unsigned>(s->options_.max_connections),
        MHD_OPTION_EXTERNAL_LOGGER, &LogMhd, nullptr,
        MHD_OPTION_URI_LOG_CALLBACK, &MhdGlue::UriLog, nullptr,
        MHD_OPTION_NOTIFY_CONNECTION, &MhdGlue::NotifyConnection, d.get(),
        MHD_OPTION_NOTIFY_COMPLETED, &MhdGlue::Completed, nullptr,
        MHD_OPTION_ARRAY, tls_items, MHD_OPTION_END);
    g_start_error = nullptr;
    if (d->mhd == nullptr) {
      mhd_internal::RemoveUnix(d->socket);
      return absl::UnavailableError(ToAbsl(StrCat(
          "cannot serve ", l.address, " with libmicrohttpd: ",
          start_error.empty() ? "MHD_start_daemon failed" : start_error)));
    }
    d->socket.fd.release();  // MHD closes it when stopped
    s->ports_.push_back(d->socket.port);
    s->daemons_.push_back(std::move(d));
  }
  return s;
}

MhdServer::~MhdServer() { Stop(); }

void MhdServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return relays_ == 0; });
  lock.unlock();
  for (auto& d : daemons_) {
    if (d->mhd != nullptr) MHD_stop_daemon(d->mhd);
    d->mhd = nullptr;
    mhd_internal::RemoveUnix(d->socket);
  }
  lock.lock();
  cv_.wait(lock, [this] { return threads_ == 0; });
}

}  // namespace jailwarden::api
