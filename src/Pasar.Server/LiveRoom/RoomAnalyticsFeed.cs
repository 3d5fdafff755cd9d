using System.Runtime.CompilerServices;
using Pasar.Server.Analytics;
using Pasar.Server.Platform;

namespace Pasar.Server.LiveRoom;

/// <summary>
/// Hands the live room's viewing events to the Analytics module (SPEC §13) at the points where the room records
/// them for SQL: views, chat, pins, product clicks. Does nothing unless ClickHouse is configured. The seller of
/// a session is the one the room looked up when the viewer joined (a session's seller never changes).
/// </summary>
internal sealed class RoomAnalyticsFeed(IAnalyticsRecorder recorder, RoomSessions sessions, TimeProvider time, ILogger<RoomAnalyticsFeed> logger)
{
    /// <summary>SPEC §13: product clicks come from clients, "at most a few per second"; more are not counted.</summary>
    public const int MaxClicksPerSecond = 5;

    private readonly ConditionalWeakTable<RoomMember, ClickWindow> _clicks = [];

    public bool Enabled => recorder.Enabled;

    public void View(ViewEvent e)
    {
        if (!recorder.Enabled)
        {
            return;
        }

        var kind = e.Kind switch
        {
            ViewEventKind.Start => AnalyticsKind.ViewStart,
            ViewEventKind.Heartbeat => AnalyticsKind.Heartbeat,
            _ => AnalyticsKind.ViewEnd,
        };
        Record(e.SessionId, seller => new AnalyticsEvent(Ids.New(), kind, e.SessionId, seller, e.ViewerId, e.UserId, e.At, ViewId: e.ViewId));
    }

    public void Chat(ChatMessage m)
    {
        if (recorder.Enabled)
        {
            Record(m.SessionId, seller => new AnalyticsEvent("chat:" + m.Id, AnalyticsKind.Chat, m.SessionId, seller, m.UserId, m.UserId, m.SentAt.ToUnixTimeMilliseconds()));
        }
    }

    public void PinShown(string sessionId, string sellerId, string productId)
    {
        if (recorder.Enabled)
        {
            recorder.Record(new AnalyticsEvent(Ids.New(), AnalyticsKind.PinShown, sessionId, sellerId, sellerId, sellerId, time.GetUtcNow().ToUnixTimeMilliseconds(), ProductId: productId));
        }
    }

    /// <summary>
    /// Counts a product click of a viewer in the room and hands it to ClickHouse when configured; null when the
    /// viewer is over <see cref="MaxClicksPerSecond"/>, else the click for the room's SQL table.
    /// </summary>
    public ProductClick? ProductClicked(RoomMember member, string sessionId, string productId)
    {
        var now = time.GetTimestamp();
        var window = _clicks.GetValue(member, _ => new ClickWindow());
        lock (window)
        {
            if (time.GetElapsedTime(window.Start, now) >= TimeSpan.FromSeconds(1))
            {
                window.Start = now;
                window.Count = 0;
            }

            if (++window.Count > MaxClicksPerSecond)
            {
                return null;
            }
        }

        var click = new ProductClick(Ids.New(), sessionId, member.ViewerId, member.UserId, productId, time.GetUtcNow().ToUnixTimeMilliseconds());
        if (recorder.Enabled)
        {
            Record(sessionId, seller => new AnalyticsEvent(ProductClick.EventId(click.Id), AnalyticsKind.ProductClick, sessionId, seller, click.ViewerId, click.UserId,
                click.At, ProductId: productId));
        }

        return click;
    }

    private void Record(string sessionId, Func<string, AnalyticsEvent> make)
    {
        if (sessions.KnownSeller(sessionId) is { } seller)
        {
            recorder.Record(make(seller));
            return;
        }

        _ = RecordAfterLookupAsync(sessionId, make);
    }

    private async Task RecordAfterLookupAsync(string sessionId, Func<string, AnalyticsEvent> make)
    {
        try
        {
            if (await sessions.FindAsync(sessionId, CancellationToken.None) is { } session)
            {
                recorder.Record(make(session.SellerId));
            }
        }
        catch (Exception ex)
        {
            logger.LogWarning("A viewing event of session {SessionId} was not recorded for analytics: its seller could not be looked up ({Error})", sessionId, ex.Message);
        }
    }

    private sealed class ClickWindow
    {
        public long Start { get; set; } = long.MinValue;
        public int Count { get; set; }
    }
}
