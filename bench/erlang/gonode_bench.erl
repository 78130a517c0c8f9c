%% Load drivers and peers for bench/run, on Erlang/OTP distribution.
%%
%% bench/run compiles this module and starts each driver as its own OS
%% process:
%%
%%   erl -sname NAME -setcookie C -noshell -start_epmd false \
%%       -pa DIR -run gonode_bench main COMMAND ARG...
%%
%% A driver writes lines to standard output that the harness reads, the
%% same lines as the Go drivers in bench/harness write:
%%
%%   ready               the driver is set up; the harness starts timing
%%   event NAME          something happened (the harness stamps the time)
%%   result KEY VALUE    a measured number
%%   error TEXT          the driver failed; it then exits with status 1
%%
%% Every wait has a time limit, so a driver never hangs the run.
-module(gonode_bench).
-export([main/1]).

-define(WAIT_MS, 120000).

main(Args) ->
    try run(Args) of
        _ -> halt(0)
    catch
        Class:Reason:Stack ->
            out("error ~p:~p ~p", [Class, Reason, hd(Stack ++ [none])]),
            halt(1)
    end.

%% ping TARGET COUNT: COUNT net_adm:ping round trips after a warm-up.
run(["ping", Target, Count]) ->
    T = list_to_atom(Target),
    pong = net_adm:ping(T),
    [pong = net_adm:ping(T) || _ <- lists:seq(1, 100)],
    out("ready"),
    Samples = [time_ns(fun() -> pong = net_adm:ping(T) end)
               || _ <- lists:seq(1, list_to_integer(Count))],
    latency("ping", Samples);
%% echo_server: sends every {From, N} back to From.
run(["echo_server"]) ->
    register(echo, self()),
    out("ready"),
    echo_loop();
%% echo TARGET COUNT: COUNT synchronous round trips to {echo, TARGET}.
run(["echo", Target, Count]) ->
    T = list_to_atom(Target),
    pong = net_adm:ping(T),
    Self = self(),
    Echo = fun(I) ->
                   {echo, T} ! {Self, I},
                   receive {Self, I} -> ok after ?WAIT_MS -> exit(echo_timeout) end
           end,
    [Echo(I) || I <- lists:seq(1, 100)],
    out("result message_bytes ~b", [byte_size(term_to_binary({Self, 100000}))]),
    out("ready"),
    Samples = [time_ns(fun() -> Echo(I) end) || I <- lists:seq(1, list_to_integer(Count))],
    latency("echo", Samples);
%% sink COUNT NOTIFY: counts {msg, N} messages and, at COUNT, sends
%% {done, COUNT} to {bench, NOTIFY}.
run(["sink", Count, Notify]) ->
    register(sink, self()),
    out("ready"),
    N = list_to_integer(Count),
    sink_loop(0, N),
    {bench, list_to_atom(Notify)} ! {done, N},
    receive after ?WAIT_MS -> ok end;
%% send TARGET COUNT SENDERS: SENDERS processes send COUNT {msg, I}
%% messages in all to {sink, TARGET}, timed until the sink confirms.
run(["send", Target, Count, Senders]) ->
    T = list_to_atom(Target),
    register(bench, self()),
    pong = net_adm:ping(T),
    N = list_to_integer(Count),
    S = list_to_integer(Senders),
    out("result message_bytes ~b", [byte_size(term_to_binary({msg, N}))]),
    out("ready"),
    Start = erlang:monotonic_time(nanosecond),
    Shares = [N div S + (if I =< N rem S -> 1; true -> 0 end) || I <- lists:seq(1, S)],
    [spawn_link(fun() -> send_loop(T, Share) end) || Share <- Shares],
    receive
        {done, N} -> ok
    after ?WAIT_MS -> exit(sink_timeout)
    end,
    Elapsed = erlang:monotonic_time(nanosecond) - Start,
    out("result msgs_per_s ~.1f", [N * 1.0e9 / Elapsed]);
%% connect TARGET COUNT COOKIE: COUNT times, starts distribution under a
%% fresh name, times net_kernel:connect_node, and stops distribution.
run(["connect", Target, Count, Cookie]) ->
    T = list_to_atom(Target),
    out("ready"),
    Samples = [connect_once(T, I, list_to_atom(Cookie)) || I <- lists:seq(1, list_to_integer(Count))],
    out("result connect_us ~.3f", [median(Samples) / 1000]);
%% watch TARGET: connects, then reports the nodedown of TARGET.
run(["watch", Target]) ->
    T = list_to_atom(Target),
    ok = net_kernel:monitor_nodes(true),
    pong = net_adm:ping(T),
    out("ready"),
    receive
        {nodedown, T} -> out("event nodedown")
    after 2 * ?WAIT_MS -> exit(no_nodedown)
    end;
%% ping_until TARGET: pings TARGET every millisecond until it answers.
run(["ping_until", Target]) ->
    T = list_to_atom(Target),
    out("ready"),
    ping_until(T, erlang:monotonic_time(millisecond) + 30000);
%% nodeup: reports the first node that connects.
run(["nodeup"]) ->
    ok = net_kernel:monitor_nodes(true),
    out("ready"),
    receive
        {nodeup, _} -> out("event nodeup")
    after ?WAIT_MS -> exit(no_nodeup)
    end,
    receive after ?WAIT_MS -> ok end;
%% connect_at_boot TARGET: connects to TARGET as soon as it starts.
run(["connect_at_boot", Target]) ->
    pong = net_adm:ping(list_to_atom(Target)),
    out("event connected"),
    receive after ?WAIT_MS -> ok end.

echo_loop() ->
    receive
        {From, _} = Msg -> From ! Msg, echo_loop()
    after 10 * ?WAIT_MS -> ok
    end.

sink_loop(N, N) -> ok;
sink_loop(I, N) ->
    receive
        {msg, _} -> sink_loop(I + 1, N)
    after ?WAIT_MS -> exit({sink_stalled, I})
    end.

send_loop(_, 0) -> ok;
send_loop(T, K) ->
    {sink, T} ! {msg, K},
    send_loop(T, K - 1).

connect_once(Target, I, Cookie) ->
    Name = list_to_atom("conn" ++ integer_to_list(I)),
    {ok, _} = net_kernel:start([Name, shortnames]),
    true = erlang:set_cookie(Cookie),
    Ns = time_ns(fun() -> true = net_kernel:connect_node(Target) end),
    ok = net_kernel:stop(),
    Ns.

ping_until(T, Deadline) ->
    case net_adm:ping(T) of
        pong -> out("event pong");
        pang ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> exit(no_pong);
                false -> timer:sleep(1), ping_until(T, Deadline)
            end
    end.

time_ns(F) ->
    Start = erlang:monotonic_time(nanosecond),
    F(),
    erlang:monotonic_time(nanosecond) - Start.

%% latency prints the average, median and 99th percentile in microseconds.
latency(Key, Samples) ->
    Sorted = lists:sort(Samples),
    Len = length(Sorted),
    out("result ~s_avg_us ~.3f", [Key, lists:sum(Sorted) / Len / 1000]),
    out("result ~s_p50_us ~.3f", [Key, percentile(Sorted, Len, 50) / 1000]),
    out("result ~s_p99_us ~.3f", [Key, percentile(Sorted, Len, 99) / 1000]).

%% percentile uses the nearest-rank method on a sorted list, as the Go
%% drivers do.
percentile(Sorted, Len, P) ->
    Rank = max(1, (P * Len + 99) div 100),
    lists:nth(Rank, Sorted).

median(Samples) ->
    Sorted = lists:sort(Samples),
    percentile(Sorted, length(Sorted), 50).

out(Text) -> out(Text, []).
out(Format, Args) -> io:format(Format ++ "~n", Args).
