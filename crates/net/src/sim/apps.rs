//! The applications' side of the engine: TCP events become trace records,
//! connection reports and application reactions — the built-in
//! `[[connections]]` workload, or wake-ups of async tasks.

use super::*;

impl Sim {
    /// Runs the applications' reactions to what just happened, in the order
    /// they were triggered, settling each host after each reaction (which
    /// may queue more).
    pub(super) fn run_reactions(&mut self) {
        while let Some(r) = self.reactions.pop_front() {
            let host = match r {
                Reaction::Read {
                    host,
                    id,
                    conn,
                    end,
                } => {
                    let mut buf = std::mem::take(&mut self.read_buf);
                    let n = self.hosts[host].endpoint.recv_to_end(id, &mut buf);
                    buf.clear();
                    self.read_buf = buf;
                    self.conns[conn as usize].ends[ix(end)].bytes_read += n as u64;
                    host
                }
                Reaction::Connected { host, conn, end } => {
                    self.app_connected(host, conn, end);
                    host
                }
                Reaction::AllAcked { conn, end } => {
                    let w = &self.conns[conn as usize].workload;
                    let closes = w.close_at.is_none() && closer(w.close) == Some(end);
                    let host = match end {
                        End::Client => w.client,
                        End::Server => w.server,
                    };
                    if closes {
                        self.app_close(conn, end);
                    }
                    host
                }
                Reaction::Eof {
                    host,
                    id,
                    conn,
                    end,
                } => {
                    self.app_eof(host, conn, end, id);
                    host
                }
            };
            self.settle(host);
        }
    }

    // ----- TCP events and the applications -----

    pub(super) fn on_tcp_event(&mut self, h: HostId, id: ConnId, ev: Event) {
        let mut mapped = self.hosts[h].lookup(id);
        if mapped.is_none() {
            if let Event::StateChanged {
                from: State::Listen,
                ..
            } = ev
            {
                mapped = self.adopt_passive(h, id);
            }
        }
        let conn = mapped.map(|(c, _)| c);
        let is_async = mapped.is_some_and(|(c, _)| self.conns[c as usize].driver == Driver::Async);
        match ev {
            Event::StateChanged { from, to } => {
                self.record(TraceKind::State {
                    host: h,
                    conn,
                    from,
                    to,
                });
                if let Some((c, end)) = mapped {
                    let now = self.now;
                    let keep = self.keep_paths;
                    let e = &mut self.conns[c as usize].ends[ix(end)];
                    if keep {
                        if e.path.is_empty() {
                            e.path.push(from);
                        }
                        e.path.push(to);
                    }
                    e.state = to;
                    if to == State::Established && e.established.is_none() {
                        e.established = Some(now);
                    }
                    if to == State::TimeWait && e.done.is_none() {
                        e.done = Some(now);
                    }
                }
            }
            Event::TimerFired(timer) => self.record(TraceKind::Timer {
                host: h,
                conn,
                timer,
            }),
            Event::Readable if is_async => self.sockets.wake_read(h, id),
            Event::AllAcked if is_async => self.sockets.wake_write(h, id),
            Event::Connected if is_async => {
                if let Some((c, end)) = mapped {
                    self.async_connected(h, id, c, end);
                }
            }
            Event::Readable => {
                if let Some((c, end)) = mapped {
                    self.reactions.push_back(Reaction::Read {
                        host: h,
                        id,
                        conn: c,
                        end,
                    });
                }
            }
            Event::Connected => {
                if let Some((c, end)) = mapped {
                    let w = &self.conns[c as usize].workload;
                    if end == End::Server && w.open == OpenMode::Active {
                        self.record(TraceKind::App {
                            host: h,
                            conn: Some(c),
                            call: AppCall::Accept,
                        });
                    }
                    self.reactions.push_back(Reaction::Connected {
                        host: h,
                        conn: c,
                        end,
                    });
                }
            }
            Event::AllAcked => {
                if let Some((c, end)) = mapped {
                    self.reactions
                        .push_back(Reaction::AllAcked { conn: c, end });
                }
            }
            Event::EndOfStream => {
                self.record(TraceKind::App {
                    host: h,
                    conn,
                    call: AppCall::Eof,
                });
                if is_async {
                    self.sockets.on_eof(h, id);
                } else if let Some((c, end)) = mapped {
                    self.reactions.push_back(Reaction::Eof {
                        host: h,
                        id,
                        conn: c,
                        end,
                    });
                }
            }
            Event::Closed => {
                if is_async {
                    self.sockets.on_gone(h, id, None);
                }
                if let Some((c, end)) = mapped {
                    let now = self.now;
                    let aborted = self.conns[c as usize].aborted;
                    let e = &mut self.conns[c as usize].ends[ix(end)];
                    e.ended = Some(now);
                    if e.error.is_none() && !aborted && e.done.is_none() {
                        e.done = Some(now);
                    }
                }
            }
            Event::Refused | Event::Reset | Event::TimedOut => {
                let error = match ev {
                    Event::Refused => AppError::Refused,
                    Event::Reset => AppError::Reset,
                    _ => AppError::TimedOut,
                };
                // A server end that never reached ESTABLISHED was never
                // accepted: its application does not see it fail.
                let seen = mapped.is_none_or(|(c, end)| {
                    end == End::Client || self.conns[c as usize].ends[ix(end)].established.is_some()
                });
                if seen {
                    self.record(TraceKind::App {
                        host: h,
                        conn,
                        call: AppCall::Error(error),
                    });
                }
                if is_async {
                    self.sockets.on_gone(h, id, Some(error));
                }
                if let Some((c, end)) = mapped {
                    let now = self.now;
                    let e = &mut self.conns[c as usize].ends[ix(end)];
                    e.error = Some(error);
                    e.ended = Some(now);
                }
            }
        }
    }

    /// A listener created a connection: find the experiment connection it
    /// belongs to by its 4-tuple, if that connection has no server end yet.
    /// The experiment connection and end that a segment from `src` to
    /// `dst` belongs to, by its 4-tuple.
    pub(super) fn conn_of_tuple(&self, src: SocketAddrV4, dst: SocketAddrV4) -> Option<(u32, End)> {
        if let Some(&c) = self.by_tuple.get(&tuple_key(src, dst)) {
            return Some((c, End::Client));
        }
        self.by_tuple
            .get(&tuple_key(dst, src))
            .map(|&c| (c, End::Server))
    }

    pub(crate) fn adopt_passive(&mut self, h: HostId, id: ConnId) -> Option<(u32, End)> {
        let c = self.hosts[h].endpoint.connection(id)?;
        let key = tuple_key(c.remote(), c.local());
        let local_port = c.local().port();
        let conn = *self.by_tuple.get(&key)?;
        let run = &mut self.conns[conn as usize];
        if run.ids[1].is_some() && run.ends[1].ended.is_none() {
            return None; // the server end is still there: not ours to adopt
        }
        // The first server end, or a new one after the last was dropped (a
        // half-open connection the listener gave up on and the client's next
        // SYN created again): it continues the same experiment connection.
        run.ids[1] = Some(id);
        run.ends[1].ended = None;
        run.ends[1].error = None;
        run.ends[1].port = Some(local_port);
        self.hosts[h].register(id, conn, End::Server);
        Some((conn, End::Server))
    }

    pub(super) fn open(&mut self, c: u32) {
        let w = self.conns[c as usize].workload;
        let server_addr = SocketAddrV4::new(self.hosts[w.server].addr, w.port);
        self.connect_end(c, End::Client, w.client, server_addr, w.client_port);
        if w.open == OpenMode::Simultaneous {
            let port = w.client_port.unwrap_or(0);
            let client_addr = SocketAddrV4::new(self.hosts[w.client].addr, port);
            self.connect_end(c, End::Server, w.server, client_addr, Some(w.port));
            self.settle(w.server);
        }
        self.settle(w.client);
    }

    pub(super) fn connect_end(
        &mut self,
        c: u32,
        end: End,
        h: HostId,
        remote: SocketAddrV4,
        local_port: Option<u16>,
    ) {
        let now = self.now;
        self.record(TraceKind::App {
            host: h,
            conn: Some(c),
            call: AppCall::Connect,
        });
        match self.hosts[h].endpoint.connect(now, remote, local_port) {
            Ok(id) => {
                self.hosts[h].register(id, c, end);
                let local = self.hosts[h]
                    .endpoint
                    .connection(id)
                    .map(|conn| conn.local());
                let run = &mut self.conns[c as usize];
                run.ids[ix(end)] = Some(id);
                if let Some(local) = local {
                    run.ends[ix(end)].port = Some(local.port());
                    if end == End::Client {
                        self.note_tuple(local, remote, c);
                    }
                }
            }
            Err(_) => {
                self.record(TraceKind::App {
                    host: h,
                    conn: Some(c),
                    call: AppCall::Error(AppError::NoPort),
                });
                let e = &mut self.conns[c as usize].ends[ix(end)];
                e.error = Some(AppError::NoPort);
                e.ended = Some(now);
            }
        }
    }

    pub(super) fn app_connected(&mut self, h: HostId, c: u32, end: End) {
        let w = &self.conns[c as usize].workload;
        let bytes = match end {
            End::Client => w.client_sends,
            End::Server => w.server_sends,
        };
        let close_now = bytes == 0 && w.close_at.is_none() && closer(w.close) == Some(end);
        if bytes > 0 {
            self.app_write(h, c, end, bytes);
        }
        if close_now {
            self.app_close(c, end);
        }
    }

    pub(super) fn app_write(&mut self, h: HostId, c: u32, end: End, bytes: u64) {
        let Some(id) = self.conns[c as usize].ids[ix(end)] else {
            return;
        };
        let now = self.now;
        // One write of the whole stream (octet i is i mod 256), so TCP sees
        // it at once and segments it by MSS, as a real application's single
        // write() would be.
        let sent = if bytes <= PATTERN.len() as u64 {
            self.hosts[h]
                .endpoint
                .send(now, id, &PATTERN[..bytes as usize])
        } else {
            let mut data = std::mem::take(&mut self.write_buf);
            data.clear();
            while (data.len() as u64) < bytes {
                let n = (bytes - data.len() as u64).min(PATTERN.len() as u64) as usize;
                data.extend_from_slice(&PATTERN[..n]);
            }
            let sent = self.hosts[h].endpoint.send(now, id, &data);
            // Keep a moderate buffer for the next write; give a huge one back.
            if data.capacity() <= 1 << 16 {
                self.write_buf = data;
            }
            sent
        };
        // Recorded only if TCP took the data (sending produces no trace
        // records of its own, so the order of the trace is unchanged).
        if sent.is_ok() {
            self.record(TraceKind::App {
                host: h,
                conn: Some(c),
                call: AppCall::Write(bytes),
            });
        }
    }

    /// The application at `end` closes: FIN after its data, or RST in the
    /// abort modes. Does nothing the second time.
    pub(super) fn app_close(&mut self, c: u32, end: End) {
        let run = &mut self.conns[c as usize];
        if run.shut[ix(end)] {
            return;
        }
        let Some(id) = run.ids[ix(end)] else {
            return;
        };
        run.shut[ix(end)] = true;
        let h = match end {
            End::Client => run.workload.client,
            End::Server => run.workload.server,
        };
        let abort = matches!(
            (run.workload.close, end),
            (CloseMode::ClientAbort, End::Client) | (CloseMode::ServerAbort, End::Server)
        );
        let now = self.now;
        if abort {
            run.aborted = true;
            self.record(TraceKind::App {
                host: h,
                conn: Some(c),
                call: AppCall::Abort,
            });
            self.hosts[h].endpoint.abort(now, id);
        } else {
            self.record(TraceKind::App {
                host: h,
                conn: Some(c),
                call: AppCall::Close,
            });
            let _ = self.hosts[h].endpoint.shutdown(now, id);
        }
    }

    /// End-of-stream: the application closes if it has not (after its own
    /// data, which is already queued), then releases the socket.
    pub(super) fn app_eof(&mut self, h: HostId, c: u32, end: End, id: ConnId) {
        let w = &self.conns[c as usize].workload;
        if w.close == CloseMode::None && !self.conns[c as usize].shut[ix(end)] {
            return;
        }
        self.app_close(c, end);
        let now = self.now;
        self.hosts[h].endpoint.close(now, id);
    }
}

/// Who closes first on their own (not at `close_at`).
pub(super) fn closer(mode: CloseMode) -> Option<End> {
    match mode {
        CloseMode::ClientFirst | CloseMode::ClientAbort => Some(End::Client),
        CloseMode::ServerFirst | CloseMode::ServerAbort => Some(End::Server),
        CloseMode::Simultaneous | CloseMode::None => None,
    }
}

pub(super) fn report(id: u32, run: ConnRun, end_of_run: Instant) -> ConnReport {
    let [client, server] = run.ends;
    let has = |e: AppError| client.error == Some(e) || server.error == Some(e);
    let outcome = if client.error == Some(AppError::Refused) {
        Outcome::Refused
    } else if has(AppError::TimedOut) {
        Outcome::Timeout
    } else if run.aborted || has(AppError::Reset) {
        Outcome::Reset
    } else if client.established.is_some() && client.done.is_some() && server.done.is_some() {
        Outcome::Closed
    } else {
        Outcome::Incomplete
    };
    let closed = match (outcome, client.done, server.done) {
        (Outcome::Closed, Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    };
    let ended = match (client.ended, server.ended, run.ids[1]) {
        (Some(a), Some(b), _) => a.max(b),
        // The server end never existed (refused, or its SYN never arrived).
        (Some(a), None, None) => a,
        _ => end_of_run,
    };
    ConnReport {
        id,
        workload: run.workload,
        opened: run.opened,
        client,
        server,
        outcome,
        closed,
        ended,
    }
}
