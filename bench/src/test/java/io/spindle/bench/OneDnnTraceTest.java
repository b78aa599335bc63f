package io.spindle.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.spindle.bench.StepProfiler.Row;
import java.util.List;
import org.junit.jupiter.api.Test;

/** oneDNN's verbose lines summed per primitive, direction and problem, per step. */
class OneDnnTraceTest {
  @Test
  void sumsExecLinesPerPrimitiveAndStep() {
    List<String> lines =
        List.of(
            "dnnl_verbose,info,oneDNN v2.3.0 (commit aec51f92)",
            "dnnl_verbose,create:cache_miss,cpu,convolution,brgconv:avx512_core,forward_inference,"
                + "src_f32::blocked:acdb:f0,,alg:convolution_direct,mb64_ic1oc32_ih28oh28,0.5",
            "dnnl_verbose,exec,cpu,convolution,brgconv:avx512_core,forward_inference,"
                + "src_f32::blocked:acdb:f0 dst_f32::blocked:acdb:f0,,alg:convolution_direct,"
                + "mb64_ic1oc32_ih28oh28,1.5",
            "dnnl_verbose,exec,cpu,convolution,brgconv:avx512_core,forward_inference,"
                + "src_f32::blocked:acdb:f0 dst_f32::blocked:acdb:f0,,alg:convolution_direct,"
                + "mb64_ic1oc32_ih28oh28,2.5",
            "dnnl_verbose,exec,cpu,reorder,jit:uni,undef,src_f32::blocked:abcd:f0"
                + " dst_f32::blocked:acdb:f0,,,64x32x28x28,0.25",
            "dnnl_verbose,exec,cpu,convolution,jit_wino_4x3:avx512_core,backward_data,"
                + "src_f32::blocked:aBcd16b:f0,,alg:convolution_winograd,mb64_ic32oc64,3.0",
            "12:00:00 INFO something else");
    List<Row> rows = OneDnnTrace.parse(lines, 2);
    assertEquals(3, rows.size());
    Row conv =
        rows.stream().filter(r -> r.part().startsWith("convolution forward")).findFirst().get();
    assertEquals(2.0, conv.ms(), 1e-12); // (1.5 + 2.5) / 2 steps
    assertTrue(conv.part().contains("[brgconv:avx512_core]"), conv.part());
    assertTrue(conv.part().endsWith("(x1/step)"), conv.part());
    Row back =
        rows.stream().filter(r -> r.part().startsWith("convolution backward")).findFirst().get();
    assertEquals("backward", back.phase());
    assertEquals(1.5, back.ms(), 1e-12);
    Row reorder = rows.stream().filter(r -> r.part().startsWith("reorder")).findFirst().get();
    assertEquals(0.125, reorder.ms(), 1e-12);
  }
}
