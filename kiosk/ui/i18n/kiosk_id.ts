<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="id_ID">
  <context>
    <name>Kiosk</name>
    <message>
      <source>Come closer</source>
      <translation>Mendekatlah ke kamera</translation>
    </message>
    <message>
      <source>Move your face to the centre</source>
      <translation>Posisikan wajah di tengah</translation>
    </message>
    <message>
      <location filename="../../work/wt15/kiosk/ui/text.py" line="205" />
      <source>Look straight at the camera</source>
      <translation>Hadapkan wajah ke kamera</translation>
    </message>
    <message>
      <source>Hold your head straight</source>
      <translation>Tegakkan kepala</translation>
    </message>
    <message>
      <source>Too dark: turn your face towards the light</source>
      <translation>Terlalu gelap: hadapkan wajah ke arah cahaya</translation>
    </message>
    <message>
      <source>Too bright: step out of the direct light</source>
      <translation>Terlalu terang: menjauh dari cahaya langsung</translation>
    </message>
    <message>
      <source>Hold still</source>
      <translation>Diam sebentar</translation>
    </message>
    <message>
      <source>Face not recognised</source>
      <translation>Wajah tidak dikenali</translation>
    </message>
    <message>
      <source>Please try again, or contact HR</source>
      <translation>Silakan coba lagi, atau hubungi bagian kepegawaian</translation>
    </message>
    <message>
      <source>Already recorded: %1 at %2</source>
      <translation>Sudah tercatat: %1 pukul %2</translation>
    </message>
    <message>
      <source>IN</source>
      <translation>MASUK</translation>
    </message>
    <message>
      <source>OUT</source>
      <translation>PULANG</translation>
    </message>
    <message>
      <source>BREAK</source>
      <translation>ISTIRAHAT</translation>
    </message>
    <message>
      <source>BACK</source>
      <translation>KEMBALI</translation>
    </message>
    <message>
      <source>Wrong? Change to IN</source>
      <translation>Salah? Ganti ke MASUK</translation>
    </message>
    <message>
      <source>Wrong? Change to OUT</source>
      <translation>Salah? Ganti ke PULANG</translation>
    </message>
    <message>
      <source>IN %1</source>
      <translation>MASUK %1</translation>
    </message>
    <message>
      <source>OUT %1</source>
      <translation>PULANG %1</translation>
    </message>
    <message>
      <source>BREAK %1</source>
      <translation>ISTIRAHAT %1</translation>
    </message>
    <message>
      <source>BACK %1</source>
      <translation>KEMBALI %1</translation>
    </message>
    <message>
      <source>Outside working hours</source>
      <translation>Di luar jam kerja</translation>
    </message>
    <message>
      <source>Late %1 minutes</source>
      <translation>Terlambat %1 menit</translation>
    </message>
    <message>
      <source>On time</source>
      <translation>Tepat waktu</translation>
    </message>
    <message>
      <source>Leaving %1 minutes early</source>
      <translation>Pulang cepat %1 menit</translation>
    </message>
    <message>
      <source>Goodbye, take care</source>
      <translation>Selamat jalan, hati-hati</translation>
    </message>
    <message>
      <source>Blink your eyes</source>
      <translation>Kedipkan mata</translation>
    </message>
    <message>
      <source>Turn your head to the left</source>
      <translation>Tengok ke kiri</translation>
    </message>
    <message>
      <source>Turn your head to the right</source>
      <translation>Tengok ke kanan</translation>
    </message>
    <message>
      <source>Look at the camera and blink</source>
      <translation>Lihat ke kamera, lalu kedipkan mata</translation>
    </message>
    <message>
      <source>Not verified yet</source>
      <translation>Wajah belum terverifikasi</translation>
    </message>
    <message>
      <source>Please try again and blink when asked</source>
      <translation>Silakan coba lagi, kedipkan mata saat diminta</translation>
    </message>
    <message>
      <source>Face check failed</source>
      <translation>Verifikasi wajah gagal</translation>
    </message>
    <message>
      <source>Use your own face, not a photo or a screen. Contact HR if this is wrong.</source>
      <translation>Gunakan wajah Anda sendiri, bukan foto atau layar. Hubungi petugas bila ini keliru.</translation>
    </message>
    <message>
      <source>Camera OK</source>
      <translation>Kamera siap</translation>
    </message>
    <message>
      <source>Camera starting</source>
      <translation>Kamera dinyalakan</translation>
    </message>
    <message>
      <source>Camera stopped</source>
      <translation>Kamera berhenti</translation>
    </message>
    <message>
      <source>Camera not available, retrying</source>
      <translation>Kamera tidak tersedia, mencoba lagi</translation>
    </message>
    <message>
      <source>Recognition ready</source>
      <translation>Pengenalan wajah siap</translation>
    </message>
    <message>
      <source>Recognition starting</source>
      <translation>Pengenalan wajah dimulai</translation>
    </message>
    <message>
      <source>Recognition restarting</source>
      <translation>Pengenalan wajah dimulai ulang</translation>
    </message>
    <message>
      <source>Recognition failed</source>
      <translation>Pengenalan wajah gagal</translation>
    </message>
    <message>
      <source>Clock synchronised</source>
      <translation>Jam tersinkron</translation>
    </message>
    <message>
      <source>Clock not synchronised</source>
      <translation>Jam belum tersinkron</translation>
    </message>
    <message>
      <source>Upload not configured</source>
      <translation>Unggah belum diatur</translation>
    </message>
    <message>
      <source>Server connected</source>
      <translation>Server terhubung</translation>
    </message>
    <message>
      <source>Server not reachable, records kept</source>
      <translation>Server tidak terjangkau, data tetap tersimpan</translation>
    </message>
    <message>
      <source>Device token revoked: call the technician</source>
      <translation>Token perangkat dicabut: hubungi teknisi</translation>
    </message>
    <message>
      <source>Waiting for upload: %1</source>
      <translation>Menunggu unggah: %1</translation>
    </message>
    <message>
      <source>Camera not available. Please use the paper attendance list.</source>
      <translation>Kamera tidak tersedia. Silakan isi daftar hadir kertas.</translation>
    </message>
    <message>
      <source>Records cannot be saved. Please use the paper attendance list.</source>
      <translation>Data tidak dapat disimpan. Silakan isi daftar hadir kertas.</translation>
    </message>
    <message>
      <source>Face recognition is restarting, please wait.</source>
      <translation>Pengenalan wajah sedang dimulai ulang, mohon tunggu.</translation>
    </message>
    <message>
      <source>Face recognition cannot start. Please use the paper attendance list.</source>
      <translation>Pengenalan wajah tidak dapat berjalan. Silakan isi daftar hadir kertas.</translation>
    </message>
    <message>
      <source>Enter the admin PIN</source>
      <translation>Masukkan PIN admin</translation>
    </message>
    <message>
      <source>Choose a new admin PIN (6 to 12 digits)</source>
      <translation>Buat PIN admin baru (6 sampai 12 angka)</translation>
    </message>
    <message>
      <source>Enter the new PIN again</source>
      <translation>Masukkan PIN baru sekali lagi</translation>
    </message>
    <message>
      <source>The two PINs differ. Choose a new PIN again.</source>
      <translation>Kedua PIN berbeda. Buat PIN baru lagi.</translation>
    </message>
    <message>
      <source>The PIN must be 6 to 12 digits.</source>
      <translation>PIN harus 6 sampai 12 angka.</translation>
    </message>
    <message>
      <source>Wrong PIN. %1 attempt(s) left.</source>
      <translation>PIN salah. Sisa %1 kali percobaan.</translation>
    </message>
    <message>
      <source>Too many wrong PINs. Try again in %1 seconds.</source>
      <translation>Terlalu banyak PIN salah. Coba lagi dalam %1 detik.</translation>
    </message>
    <message>
      <source>Another account has this PIN. Choose a different one.</source>
      <translation>PIN ini sudah dipakai akun lain. Pilih PIN lain.</translation>
    </message>
    <message>
      <source>HR accounts</source>
      <translation>Akun HR</translation>
    </message>
    <message>
      <source>Accounts: %1</source>
      <translation>Akun: %1</translation>
    </message>
    <message>
      <source>First start: your name for the HR account</source>
      <translation>Pertama kali: nama Anda untuk akun HR</translation>
    </message>
    <message>
      <source>New HR account: the person's name</source>
      <translation>Akun HR baru: nama petugas</translation>
    </message>
    <message>
      <source>Enter a name (at most 40 characters).</source>
      <translation>Masukkan nama (paling banyak 40 huruf).</translation>
    </message>
    <message>
      <source>There is already an account named %1.</source>
      <translation>Sudah ada akun bernama %1.</translation>
    </message>
    <message>
      <source>Account %1 added.</source>
      <translation>Akun %1 ditambahkan.</translation>
    </message>
    <message>
      <source>OK</source>
      <translation>OK</translation>
    </message>
    <message>
      <source>Cancel</source>
      <translation>Batal</translation>
    </message>
    <message>
      <source>Back</source>
      <translation>Kembali</translation>
    </message>
    <message>
      <source>Exit admin mode</source>
      <translation>Keluar dari mode admin</translation>
    </message>
    <message>
      <source>Search NIP or name</source>
      <translation>Cari NIP atau nama</translation>
    </message>
    <message>
      <source>New employee</source>
      <translation>Pegawai baru</translation>
    </message>
    <message>
      <source>Status</source>
      <translation>Status</translation>
    </message>
    <message>
      <source>%1 sample(s)</source>
      <translation>%1 sampel</translation>
    </message>
    <message>
      <source>not enrolled</source>
      <translation>belum terdaftar</translation>
    </message>
    <message>
      <source>inactive</source>
      <translation>nonaktif</translation>
    </message>
    <message>
      <source>Add samples</source>
      <translation>Tambah sampel</translation>
    </message>
    <message>
      <source>Re-enroll</source>
      <translation>Rekam ulang</translation>
    </message>
    <message>
      <source>Test recognition</source>
      <translation>Coba pengenalan</translation>
    </message>
    <message>
      <source>Remove face data</source>
      <translation>Hapus data wajah</translation>
    </message>
    <message>
      <source>Press again to remove all face data of this employee</source>
      <translation>Tekan sekali lagi untuk menghapus semua data wajah pegawai ini</translation>
    </message>
    <message>
      <source>Deactivate</source>
      <translation>Nonaktifkan</translation>
    </message>
    <message>
      <source>Activate</source>
      <translation>Aktifkan</translation>
    </message>
    <message>
      <source>NIP</source>
      <translation>NIP</translation>
    </message>
    <message>
      <source>Name</source>
      <translation>Nama</translation>
    </message>
    <message>
      <source>Next</source>
      <translation>Lanjut</translation>
    </message>
    <message>
      <source>NIP %1 is not valid (18 digits).</source>
      <translation>NIP %1 tidak valid (18 angka).</translation>
    </message>
    <message>
      <source>NIP %1 is already registered: search for it instead.</source>
      <translation>NIP %1 sudah terdaftar: cari melalui pencarian.</translation>
    </message>
    <message>
      <source>Enter the name.</source>
      <translation>Masukkan nama.</translation>
    </message>
    <message>
      <source>Turn your head slightly to the left</source>
      <translation>Tengok sedikit ke kiri</translation>
    </message>
    <message>
      <source>Turn your head slightly to the right</source>
      <translation>Tengok sedikit ke kanan</translation>
    </message>
    <message>
      <source>Put your glasses on and look straight</source>
      <translation>Pakai kacamata dan lihat lurus</translation>
    </message>
    <message>
      <source>Take your glasses off and look straight</source>
      <translation>Lepas kacamata dan lihat lurus</translation>
    </message>
    <message>
      <source>Sample %1</source>
      <translation>Sampel %1</translation>
    </message>
    <message>
      <source>This face matches another employee: %1</source>
      <translation>Wajah ini cocok dengan pegawai lain: %1</translation>
    </message>
    <message>
      <source>Keep anyway</source>
      <translation>Tetap simpan</translation>
    </message>
    <message>
      <source>Retake</source>
      <translation>Ambil ulang</translation>
    </message>
    <message>
      <source>A different face from the first sample: retaking</source>
      <translation>Wajah berbeda dari sampel pertama: diambil ulang</translation>
    </message>
    <message>
      <source>Check the samples, then save or redo</source>
      <translation>Periksa sampel, lalu simpan atau ulangi</translation>
    </message>
    <message>
      <source>Save</source>
      <translation>Simpan</translation>
    </message>
    <message>
      <source>Redo</source>
      <translation>Ulangi</translation>
    </message>
    <message>
      <source>Saved: %1 sample(s).</source>
      <translation>Tersimpan: %1 sampel.</translation>
    </message>
    <message>
      <source>Face data removed.</source>
      <translation>Data wajah dihapus.</translation>
    </message>
    <message>
      <source>Distance %1 (limit %2), margin %3</source>
      <translation>Jarak %1 (batas %2), selisih %3</translation>
    </message>
    <message>
      <source>Recognised</source>
      <translation>Dikenali</translation>
    </message>
    <message>
      <source>Not recognised</source>
      <translation>Tidak dikenali</translation>
    </message>
    <message>
      <source>Device</source>
      <translation>Perangkat</translation>
    </message>
    <message>
      <source>Unit</source>
      <translation>Unit</translation>
    </message>
    <message>
      <source>Software version</source>
      <translation>Versi perangkat lunak</translation>
    </message>
    <message>
      <source>Clock</source>
      <translation>Jam</translation>
    </message>
    <message>
      <source>Camera</source>
      <translation>Kamera</translation>
    </message>
    <message>
      <source>Free disk</source>
      <translation>Sisa ruang disk</translation>
    </message>
    <message>
      <source>Employees / face samples</source>
      <translation>Pegawai / sampel wajah</translation>
    </message>
    <message>
      <source>Records today</source>
      <translation>Catatan hari ini</translation>
    </message>
    <message>
      <source>Waiting for upload</source>
      <translation>Menunggu unggah</translation>
    </message>
    <message>
      <source>Last upload / last error</source>
      <translation>Unggah terakhir / galat terakhir</translation>
    </message>
    <message>
      <source>Look-alike holds</source>
      <translation>Wajah mirip ditahan</translation>
    </message>
    <message>
      <source>Liveness check speed</source>
      <translation>Kecepatan cek keaslian wajah</translation>
    </message>
    <message>
      <source>%1 frames/s (median of the last %2 checks)</source>
      <translation>%1 bingkai/detik (median %2 pemeriksaan terakhir)</translation>
    </message>
    <message>
      <source>no check since the kiosk started</source>
      <translation>belum ada pemeriksaan sejak kiosk dinyalakan</translation>
    </message>
    <message>
      <source>off ([liveness] mode)</source>
      <translation>mati ([liveness] mode)</translation>
    </message>
    <message>
      <source>TOO SLOW: at least %1 are needed, so everyone is asked to try again (technician's guide, section 8)</source>
      <translation>TERLALU LAMBAT: perlu minimal %1, sehingga semua pegawai diminta mencoba lagi (panduan teknisi, bagian 8)</translation>
    </message>
  </context>
</TS>