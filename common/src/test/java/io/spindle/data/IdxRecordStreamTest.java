package io.spindle.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * A reader that stops at its range checks nothing; {@link IdxRecordStream#verifyRest} reads the
 * rest and checks the gzip trailer and that nothing follows the declared records.
 */
class IdxRecordStreamTest {
  static final int COUNT = 500;
  static final byte[] PLAIN = IdxReaderTest.images(2051, COUNT, 28, 28, pixels());

  static byte[] pixels() {
    byte[] p = new byte[COUNT * 784];
    for (int i = 0; i < p.length; i++) {
      p[i] = (byte) (i * 31 + i / 784);
    }
    return p;
  }

  static IdxRecordStream open(byte[] file) {
    return new IdxRecordStream("imgs.gz", new ByteArrayInputStream(file), IdxReader.IMAGES_MAGIC);
  }

  @Test
  void readsARangeAndVerifiesTheRest() {
    IdxRecordStream s = open(CheckedGzipInputStreamTest.gzip(PLAIN, 6));
    assertTrue(s.compressed());
    s.skip(10);
    byte[] rec = new byte[784];
    s.read(rec);
    assertEquals(PLAIN[16 + 10 * 784 + 5], rec[5]);
    assertEquals((long) (COUNT - 11) * 784, s.verifyRest());
    assertFalse(open(PLAIN).compressed());
  }

  @Test
  void aWrongIsizeIsFoundOnlyByVerifyRest() {
    byte[] gz = CheckedGzipInputStreamTest.gzip(PLAIN, 6);
    ByteBuffer.wrap(gz).order(ByteOrder.LITTLE_ENDIAN).putInt(gz.length - 4, 7);
    IdxRecordStream s = open(gz);
    s.skip(COUNT - 1);
    s.read(new byte[784]); // every record read: the trailer is not reached yet
    DataIntegrityException e = assertThrows(DataIntegrityException.class, s::verifyRest);
    assertTrue(e.getMessage().contains("imgs.gz: gzip member 1 is corrupt"), e.getMessage());
    assertTrue(e.getMessage().contains("ISIZE 7"), e.getMessage());
  }

  @Test
  void bytesAfterTheDeclaredRecordsAreRefused() {
    byte[] longer = Arrays.copyOf(PLAIN, PLAIN.length + 3);
    IdxRecordStream s = open(CheckedGzipInputStreamTest.gzip(longer, 6));
    s.skip(3);
    DataFormatException e = assertThrows(DataFormatException.class, s::verifyRest);
    assertTrue(e.getMessage().contains("unexpected bytes after the declared data"), e.getMessage());
  }
}
