//! The metric families of what a virtio-pmem device's host costs
//! (docs/serve.md): flush requests by latency, and the failed ones.
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::families::{Families, Labels, counters, per_device};

type Fmt = Result<(), std::fmt::Error>;

impl Families {
    /// Only devices that flushed: e820 and NVDIMM pmem never ask a host.
    pub(super) fn flush_families(&self, enc: &mut DescriptorEncoder) -> Fmt {
        let s = &self.scrape;
        let mut m = enc.encode_descriptor(
            "daxtrace_pmem_flush_duration",
            "Flush requests of a virtio-pmem device to its host (fsync, journal commits), by duration, the host's answer included.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (d, f) in s.devices.iter().filter(|(_, f)| f.flushes.count > 0) {
            let labels: Labels = vec![("device", d.clone())];
            m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                f.flushes.sum_seconds,
                f.flushes.count,
                &f.flushes.buckets,
                None,
            )?;
        }
        counters(
            enc,
            "daxtrace_pmem_flush_errors",
            "Flush requests the host failed (-EIO).",
            per_device(s, |f| f.flush_errors),
        )
    }
}
