#include "net/detail/sio_http_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "net/detail/engineio_session.hpp"
#include "util/url.hpp"

namespace gsio::net::detail {

namespace websocket = beast::websocket;
using namespace std::chrono_literals;

namespace {

// After an error answer to a request whose body was not read (413, malformed HTTP), unread input
// is drained for a while before closing: closing with unread data makes the kernel send a reset,
// which can destroy the answer before the client has read it.
constexpr auto linger_timeout = 2s;
constexpr std::size_t linger_max_bytes = 4 * 1024 * 1024;

}  // namespace

void http_session::do_read() {
  read_request(max_header_bytes, core_->options.max_payload, core_->request_timeout);
}

void http_session::on_read_failed(beast::error_code, http_read_error what) {
  if (what == http_read_error::body_too_large) {
    on_oversized_body();
    return;
  }
  if (end_behind_pending())
    return;
  if (what == http_read_error::malformed) {
    // Malformed HTTP: say so before hanging up.
    ++core_->protocol_errors;
    keep_alive_ = false;
    linger_after_write_ = true;
    respond(engine_reply{400, "text/plain; charset=UTF-8", "bad request\n"});
    return;
  }
  close_stream();
}

void http_session::on_request(request_type request) {
  if (awaiting_engine_ || writing()) {
    stashed_ = std::move(request);  // pipelined; handled after the current response
    return;
  }
  handle_request(std::move(request));
}

bool http_session::end_behind_pending() {
  // A client that goes away while its poll is held has aborted the poll; Engine.IO then closes
  // the session (a later poll with the same sid must fail).
  if (awaiting_poll_ && engine_) {
    auto engine = engine_;
    asio::post(engine->strand(),
               [engine, self = shared_as<http_session>()] { engine->poll_aborted(self); });
    close_stream();
    return true;
  }
  if (awaiting_engine_ || writing()) {
    peer_eof_ = true;  // answer what is in flight, then close
    return true;
  }
  return false;
}

void http_session::on_oversized_body() {
  // Engine.IO closes a session whose client sent more than maxPayload in one POST.
  auto target = std::string(request_so_far().target());
  auto qpos = target.find('?');
  std::string_view path = std::string_view{target}.substr(0, qpos);
  std::string_view query =
      qpos == std::string::npos ? std::string_view{} : std::string_view{target}.substr(qpos + 1);
  bool raw = path_matches(path, core_->options.engineio_path);
  if (raw || path_matches(path, core_->options.path)) {
    if (auto engine = core_->find_session(util::query_parameter(query, "sid").value_or(""), raw))
      asio::post(engine->strand(),
                 [engine] { engine->close(disconnect_reason::transport_error); });
  }
  ++core_->protocol_errors;
  keep_alive_ = false;  // the unread rest of the body makes the connection unusable
  // Pipelined behind a request still being answered (a held poll reads on, to notice a client
  // that gives up): only one response may be written at a time, so this one gets none.
  if (end_behind_pending())
    return;
  version_ = request_so_far().version();
  linger_after_write_ = true;
  respond(engine_reply{413, "text/plain; charset=UTF-8", "payload too large\n"});
}

void http_session::handle_request(request_type req) {
  version_ = req.version();
  keep_alive_ = req.keep_alive();
  const auto host = req[http::field::host];
  if (!host_allowed({host.data(), host.size()}, core_->options.allowed_hosts)) {
    ++core_->protocol_errors;
    auto name = host_of({host.data(), host.size()});
    respond(engine_reply{403, "text/plain; charset=UTF-8",
                         "host not allowed: " + (name.empty() ? std::string{"(malformed)"} : name) +
                           " (this node answers to IP addresses, localhost and the host names it "
                           "is configured with; see --allowed-hosts)\n"});
    return;
  }
  std::string target{req.target()};
  auto qpos = target.find('?');
  std::string_view path = std::string_view{target}.substr(0, qpos);
  std::string_view query =
      qpos == std::string::npos ? std::string_view{} : std::string_view{target}.substr(qpos + 1);
  if (path_matches(path, core_->options.path) ||
      (core_->raw_handler && path_matches(path, core_->options.engineio_path)))
    handle_engine_request(std::move(req), path, query);
  else
    handle_plain_request(std::move(req));
}

void http_session::handle_plain_request(request_type req) {
  http_request request;
  request.method = std::string(req.method_string());
  request.target = std::string(req.target());
  request.body = std::move(req.body());
  for (const auto& field : req)
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));

  http_response answer;
  try {
    answer = core_->sio_handler.on_http(request);
  } catch (const std::exception&) {
    answer = http_response{500, "text/plain; charset=utf-8", "internal server error\n", {}};
  }
  response_type res{static_cast<http::status>(answer.status), version_};
  res.set(http::field::server, "gsio-net");
  res.set(http::field::content_type, answer.content_type);
  for (auto& [name, value] : answer.headers)
    res.set(name, value);
  res.keep_alive(keep_alive_);
  res.body() = std::move(answer.body);
  res.prepare_payload();
  if (req.method() == http::verb::head)
    res.body().clear();  // Content-Length still announces the size of the GET body
  send_response(std::move(res));
}

void http_session::handle_engine_request(request_type req,
                                         std::string_view path, std::string_view query) {
  bool raw = core_->raw_handler && path_matches(path, core_->options.engineio_path) &&
             !path_matches(path, core_->options.path);
  if (req.method() == http::verb::options) {
    response_type res{http::status::no_content, version_};
    add_cors(res);
    if (!core_->options.cors_origin.empty()) {
      res.set(http::field::access_control_allow_methods, "GET, POST, OPTIONS");
      auto requested = req[http::field::access_control_request_headers];
      res.set(http::field::access_control_allow_headers,
              requested.empty() ? beast::string_view{"content-type"} : requested);
      res.set(http::field::access_control_max_age, "86400");
    }
    res.keep_alive(keep_alive_);
    send_response(std::move(res));
    return;
  }

  if (!origin_allowed(req)) {
    ++core_->protocol_errors;
    response_type res{http::status::forbidden, version_};
    res.set(http::field::content_type, "text/plain; charset=UTF-8");
    res.body() = "origin not allowed (see --cors-origin)\n";
    res.keep_alive(keep_alive_);
    res.prepare_payload();
    send_response(std::move(res));
    return;
  }

  const auto transport = util::query_parameter(query, "transport").value_or("");
  if (transport != "polling" && transport != "websocket") {
    ++core_->protocol_errors;
    respond(error_reply(engine_error::transport_unknown));
    return;
  }
  if (util::query_parameter(query, "EIO") != "4") {
    ++core_->protocol_errors;
    respond(error_reply(engine_error::unsupported_protocol_version));
    return;
  }
  std::string sid = util::query_parameter(query, "sid").value_or("");
  const bool has_sid = util::has_query_parameter(query, "sid");

  if (websocket::is_upgrade(req)) {
    if (transport != "websocket") {
      respond(error_reply(engine_error::bad_request));
      return;
    }
    handle_upgrade(std::move(req), raw, has_sid ? sid : std::string{});
    return;
  }
  if (transport == "websocket") {  // a plain HTTP request cannot use the websocket transport
    respond(error_reply(engine_error::bad_request));
    return;
  }

  if (!has_sid) {
    if (req.method() != http::verb::get) {
      respond(error_reply(engine_error::bad_handshake_method));
      return;
    }
    auto engine = core_->create_session(asio::make_strand(core_->io), raw, transport_kind::polling,
                                        remote_);
    if (!engine) {
      respond(engine_reply{503, "application/json",
                           R"({"code":3,"message":"Server at capacity"})"});
      return;
    }
    auto open = "0" + engine->open_packet_json();
    asio::post(engine->strand(), [engine] { engine->start(); });
    respond(text_reply(std::move(open)));
    return;
  }

  auto engine = core_->find_session(sid, raw);
  if (!engine) {
    respond(error_reply(engine_error::session_id_unknown));
    return;
  }
  if (req.method() == http::verb::get) {
    awaiting_engine_ = true;
    awaiting_poll_ = true;
    engine_ = engine;
    asio::post(engine->strand(),
               [engine, self = shared_as<http_session>()] { engine->handle_poll(self); });
    do_read();  // notices a client that gives up on the held poll
  } else if (req.method() == http::verb::post) {
    awaiting_engine_ = true;
    engine_ = engine;
    asio::post(engine->strand(),
               [engine, self = shared_as<http_session>(), body = std::move(req.body())]() mutable {
                 engine->handle_post(self, std::move(body));
               });
  } else {
    respond(error_reply(engine_error::bad_request));
  }
}

void http_session::handle_upgrade(request_type req, bool raw, std::string sid) {
  if (sid.empty()) {
    if (core_->stopping) {
      respond(error_reply(engine_error::bad_request));
      return;
    }
    auto strand = asio::make_strand(core_->io);
    auto leftover = take_leftover();
    auto stream = take_stream_onto(strand);
    if (!stream)
      return;
    auto ws = std::make_shared<ws_transport>(core_, raw, std::move(*stream), std::move(strand),
                                             std::move(leftover));
    ws->start_accept(std::move(req));
    return;
  }
  auto engine = core_->find_session(sid, raw);
  if (!engine) {
    respond(error_reply(engine_error::session_id_unknown));
    return;
  }
  auto leftover = take_leftover();
  auto stream = take_stream_onto(engine->strand());
  if (!stream)
    return;
  auto ws = std::make_shared<ws_transport>(core_, raw, std::move(*stream), engine->strand(),
                                           std::move(leftover));
  asio::post(engine->strand(), [engine, ws, req = std::move(req)]() mutable {
    engine->begin_probe(ws, std::move(req));
  });
}

void http_session::deliver(engine_reply reply) {
  awaiting_engine_ = false;
  awaiting_poll_ = false;
  engine_.reset();
  if (closed())
    return;
  respond(std::move(reply));
}

void http_session::respond(engine_reply reply) {
  response_type res{static_cast<http::status>(reply.status), version_};
  res.set(http::field::content_type, reply.content_type);
  add_cors(res);
  res.keep_alive(keep_alive_ && !peer_eof_);
  res.body() = std::move(reply.body);
  res.prepare_payload();
  send_response(std::move(res));
}

bool http_session::origin_allowed(const request_type& req) const {
  const auto origin = req[http::field::origin];
  if (origin.empty() || core_->options.cors_origin == "*" || origin == core_->options.cors_origin)
    return true;
  // Same origin: "scheme://" then the authority the request was sent to (its Host header).
  const auto authority = origin.find("://");
  if (authority == beast::string_view::npos)
    return false;  // "null" (a file or sandboxed page), or malformed
  return beast::iequals(origin.substr(authority + 3), req[http::field::host]);
}

void http_session::add_cors(response_type& res) const {
  if (core_->options.cors_origin.empty())
    return;
  res.set(http::field::access_control_allow_origin, core_->options.cors_origin);
  if (core_->options.cors_origin != "*")
    res.set(http::field::vary, "Origin");
}

void http_session::send_response(response_type res) {
  if (writing()) {
    // Two writes at once would interleave on the socket; every caller waits for on_written, so
    // this is a broken invariant: drop the connection rather than corrupt it.
    ++core_->protocol_errors;
    close_stream();
    return;
  }
  write(std::move(res), http_write_timeout);
}

void http_session::on_written(beast::error_code ec, bool keep_alive) {
  if (!ec && linger_after_write_) {
    linger();
    return;
  }
  if (ec || !keep_alive || peer_eof_) {
    close_stream();
    return;
  }
  if (stashed_) {
    auto next = std::move(*stashed_);
    stashed_.reset();
    handle_request(std::move(next));
    return;
  }
  if (reading())
    stream().expires_after(core_->request_timeout);  // the write changed the shared deadline
  else
    do_read();
}

void http_session::linger() {
  if (!lingering_) {
    lingering_ = true;
    beast::error_code ignored;
    stream().socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream().expires_after(linger_timeout);
  }
  stream().async_read_some(asio::buffer(drain_buffer_), [self = shared_as<http_session>()](
                                                            beast::error_code ec, std::size_t n) {
    self->lingered_bytes_ += n;
    if (ec || self->lingered_bytes_ > linger_max_bytes)
      self->close_stream();
    else
      self->linger();
  });
}

}  // namespace gsio::net::detail
