use super::*;
use crate::sinks::ranges::Ranges;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sysotel-disk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A frame of `records` records numbered from `first`.
fn frame(first: u64, records: u32) -> Frame {
    let mut sequences = Ranges::default();
    sequences.add(first, first + u64::from(records) - 1);
    Frame {
        records,
        sequences,
        carried: Ranges::default(),
        payload: vec![first as u8; 1000],
    }
}

fn firsts(q: &mut DiskQueue) -> Vec<(FrameId, u64)> {
    let mut out = Vec::new();
    while let Some((id, f)) = q.read_next().expect("reads") {
        out.push((id, f.sequences.iter().next().expect("numbered").0));
    }
    out
}

#[test]
fn frames_come_back_in_order_and_leave_once_acknowledged() {
    let d = dir("order");
    let (mut q, rec) = DiskQueue::open(&d, 1 << 30).expect("opens");
    assert_eq!(rec, Recovered::default());
    for i in 0..10 {
        q.append(&frame(i * 10, 10)).expect("appends");
    }
    assert_eq!(q.records(), 100);
    let got = firsts(&mut q);
    assert_eq!(
        got.iter().map(|g| g.1).collect::<Vec<_>>(),
        (0..10).map(|i| i * 10).collect::<Vec<_>>()
    );
    assert!(q.caught_up());
    // Acknowledged out of order: only the prefix leaves.
    q.ack(got[1].0);
    assert_eq!(q.records(), 100);
    q.ack(got[0].0);
    assert_eq!(q.records(), 80);
    for (id, _) in &got[2..] {
        q.ack(*id);
    }
    assert_eq!((q.records(), q.bytes()), (0, 0));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_restart_resends_what_was_not_acknowledged_and_a_second_opener_is_refused() {
    let d = dir("restart");
    let (mut q, _) = DiskQueue::open(&d, 1 << 30).expect("opens");
    for i in 0..5 {
        q.append(&frame(i * 10, 10)).expect("appends");
    }
    let got = firsts(&mut q);
    q.ack(got[0].0);
    q.ack(got[1].0);
    // got[2] in flight when the process dies: sent again.
    match DiskQueue::open(&d, 1 << 30) {
        Err(OpenError::Locked { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
        other => panic!("a second opener must be refused, got {other:?}"),
    }
    drop(q);
    let (mut q, rec) = DiskQueue::open(&d, 1 << 30).expect("reopens");
    assert_eq!(
        rec,
        Recovered {
            frames: 3,
            records: 30,
            discarded_bytes: 0
        }
    );
    q.append(&frame(50, 10))
        .expect("appends after the recovered ones");
    let again: Vec<u64> = firsts(&mut q).iter().map(|g| g.1).collect();
    assert_eq!(again, vec![20, 30, 40, 50]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_torn_tail_is_cut_at_the_last_whole_frame_and_counted() {
    let d = dir("torn");
    let (mut q, _) = DiskQueue::open(&d, 1 << 30).expect("opens");
    for i in 0..4 {
        q.append(&frame(i * 10, 10)).expect("appends");
    }
    let whole = std::fs::metadata(segment_path(&d, 1))
        .expect("segment")
        .len();
    drop(q);
    // A fifth frame cut in the middle, as a crash mid-append leaves it.
    let torn = frame(40, 10).encode();
    let mut f = OpenOptions::new()
        .append(true)
        .open(segment_path(&d, 1))
        .expect("segment");
    f.write_all(&torn[..torn.len() / 2]).expect("writes");
    drop(f);
    let (mut q, rec) = DiskQueue::open(&d, 1 << 30).expect("reopens");
    assert_eq!(
        rec,
        Recovered {
            frames: 4,
            records: 40,
            discarded_bytes: (torn.len() / 2) as u64
        }
    );
    assert_eq!(
        std::fs::metadata(segment_path(&d, 1))
            .expect("segment")
            .len(),
        whole
    );
    q.append(&frame(50, 10)).expect("appends after the cut");
    let again: Vec<u64> = firsts(&mut q).iter().map(|g| g.1).collect();
    assert_eq!(again, vec![0, 10, 20, 30, 50]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_byte_bound_refuses_frames_and_acknowledged_segments_are_deleted() {
    let d = dir("bound");
    let one = frame(0, 10).encode().len() as u64;
    let (mut q, _) = DiskQueue::open(&d, one * 3).expect("opens");
    for i in 0..3 {
        q.append(&frame(i * 10, 10)).expect("within the bound");
    }
    assert!(matches!(
        q.append(&frame(30, 10)),
        Err(AppendError::Full(_))
    ));
    for (id, _) in firsts(&mut q) {
        q.ack(id);
    }
    q.append(&frame(40, 10))
        .expect("room again once acknowledged");
    // Segments of SEGMENT_MIN bytes: many frames make many segments, and
    // acknowledging them leaves only the one being written.
    let (mut q2, _) = {
        drop(q);
        let _ = std::fs::remove_dir_all(&d);
        DiskQueue::open(&d, 2 << 20).expect("opens")
    };
    let big = Frame {
        payload: vec![7; 100 << 10],
        ..frame(0, 1)
    };
    for _ in 0..20 {
        q2.append(&big).expect("appends");
    }
    let segs = || {
        std::fs::read_dir(&d)
            .expect("lists")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".seg"))
            })
            .count()
    };
    assert!(segs() > 3, "rotated into several segments");
    for (id, _) in firsts(&mut q2) {
        q2.ack(id);
    }
    assert_eq!(segs(), 1, "only the segment being written is left");
    assert_eq!(q2.records(), 0);
    drop(q2);
    let (_, rec) = DiskQueue::open(&d, 1 << 30).expect("reopens");
    assert_eq!(rec.records, 0, "nothing acknowledged comes back");
    let _ = std::fs::remove_dir_all(&d);
}
